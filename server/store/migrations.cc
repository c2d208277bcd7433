#include "server/store/migrations.h"

namespace preau::server {

const std::vector<SqlDb::Migration>& ServerMigrations() {
  static const std::vector<SqlDb::Migration> kMigrations = {
      {1, R"sql(
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE groups (
  path TEXT PRIMARY KEY,
  created_ms INTEGER NOT NULL
);
CREATE TABLE tokens (
  token_hash TEXT PRIMARY KEY,         -- SHA-256 of the token; the token itself is not kept
  group_path TEXT NOT NULL REFERENCES groups(path),
  uses_left INTEGER NOT NULL,
  expires_ms INTEGER NOT NULL,
  created_by TEXT NOT NULL,
  created_ms INTEGER NOT NULL
);
CREATE TABLE devices (
  id TEXT PRIMARY KEY,
  name TEXT NOT NULL,
  group_path TEXT NOT NULL REFERENCES groups(path),
  cert_serial TEXT NOT NULL,
  key_fingerprint TEXT NOT NULL UNIQUE,
  enrolled_ms INTEGER NOT NULL,
  last_seen_ms INTEGER NOT NULL DEFAULT 0,
  retired_ms INTEGER NOT NULL DEFAULT 0,
  inventory BLOB,
  agent_version TEXT NOT NULL DEFAULT '',
  policy_version INTEGER NOT NULL DEFAULT 0,
  policy_state TEXT NOT NULL DEFAULT ''
);
CREATE INDEX devices_group ON devices(group_path);
CREATE TABLE operators (
  name TEXT PRIMARY KEY,
  role INTEGER NOT NULL,
  scopes TEXT NOT NULL,                -- newline-separated group paths
  cert_serial TEXT NOT NULL,
  created_ms INTEGER NOT NULL,
  revoked_ms INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE audit (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  at_ms INTEGER NOT NULL,
  actor TEXT NOT NULL,
  action TEXT NOT NULL,
  target TEXT NOT NULL,
  result TEXT NOT NULL,
  detail TEXT NOT NULL DEFAULT ''
);
)sql",
       // Append-only: the audit log cannot be edited or trimmed through SQL.
       R"sql(
CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit
  BEGIN SELECT RAISE(ABORT, 'audit log is append-only'); END;
CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit
  BEGIN SELECT RAISE(ABORT, 'audit log is append-only'); END;
)sql",
       R"sql(
CREATE FUNCTION audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
  BEGIN RAISE EXCEPTION 'audit log is append-only'; END $$;
CREATE TRIGGER audit_no_update BEFORE UPDATE OR DELETE ON audit
  FOR EACH ROW EXECUTE FUNCTION audit_append_only();
CREATE TRIGGER audit_no_truncate BEFORE TRUNCATE ON audit
  FOR EACH STATEMENT EXECUTE FUNCTION audit_append_only();
-- SQLite's instr(text, part): where `part` first occurs, 1-based; 0 if nowhere.
CREATE FUNCTION instr(text, text) RETURNS integer LANGUAGE sql IMMUTABLE
  AS 'SELECT strpos($1, $2)';
)sql"},
      {2, R"sql(
-- Policies (server/policy): every apply is a row; a group's policy for a device is the
-- newest row at that group that targets it (rollout 100, or the device is in its pilot).
CREATE TABLE policy_versions (
  revision INTEGER PRIMARY KEY AUTOINCREMENT,  -- server-wide order of applies
  group_path TEXT NOT NULL REFERENCES groups(path),
  name TEXT NOT NULL,
  version INTEGER NOT NULL,                    -- per (group, name)
  file TEXT NOT NULL,
  source TEXT NOT NULL,                        -- the YAML as applied
  spec BLOB NOT NULL,                          -- compiled PolicySpec
  rollout_percent INTEGER NOT NULL,
  applied_by TEXT NOT NULL,
  applied_ms INTEGER NOT NULL,
  UNIQUE (group_path, name, version)
);
CREATE TABLE policy_pilot (
  revision INTEGER NOT NULL REFERENCES policy_versions(revision),
  device_id TEXT NOT NULL,
  PRIMARY KEY (revision, device_id)
);
-- The bundle last issued to each device, and the revisions it was resolved from.
CREATE TABLE policy_bundles (
  device_id TEXT PRIMARY KEY,
  version INTEGER NOT NULL,
  chain TEXT NOT NULL,                         -- revisions, farthest level first, "3,7,9"
  signed BLOB NOT NULL,                        -- serialized SignedPolicyBundle
  issued_ms INTEGER NOT NULL
);
-- The latest compliance report per device and bundle version.
CREATE TABLE policy_compliance (
  device_id TEXT NOT NULL,
  version INTEGER NOT NULL,
  accepted INTEGER NOT NULL,
  reason TEXT NOT NULL,                        -- '' when applied; else why it failed
  report BLOB NOT NULL,                        -- serialized ComplianceReport
  reported_ms INTEGER NOT NULL,
  PRIMARY KEY (device_id, version)
);
)sql"},
      // Class control: one row per device and command (server/classroom/command_store.h).
      {3, R"sql(
CREATE TABLE class_commands (
  device_id TEXT NOT NULL,
  seq INTEGER NOT NULL,                -- per-device order; Hello.last_command_seq
  command_id TEXT NOT NULL,            -- shared by every device of one class command
  body BLOB NOT NULL,                  -- serialized preau.v1.Command
  expires_ms INTEGER NOT NULL,         -- not delivered after this
  created_ms INTEGER NOT NULL,
  ack_result INTEGER NOT NULL DEFAULT 0,  -- preau.v1.AckResult; 0: no answer yet
  ack_detail TEXT NOT NULL DEFAULT '',
  acked_ms INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (device_id, seq)
);
CREATE INDEX class_commands_by_id ON class_commands(device_id, command_id);
)sql"},
      // Usage and reports (server/reports): usage per device and day, the ids of the
      // batches stored (idempotency), and stock-taking of devices without an agent.
      {4, R"sql(
CREATE TABLE usage_batches (
  device_id TEXT NOT NULL,
  msg_id TEXT NOT NULL,                -- AgentMessage.id: a batch is stored once
  received_ms INTEGER NOT NULL,
  PRIMARY KEY (device_id, msg_id)
) WITHOUT ROWID;
CREATE INDEX usage_batches_by_time ON usage_batches(received_ms);
CREATE TABLE usage_days (
  device_id TEXT NOT NULL,
  day TEXT NOT NULL,                   -- the device's local date, YYYY-MM-DD
  screen_on_minutes INTEGER NOT NULL,
  detail BLOB NOT NULL,                -- serialized preau.v1.DailyUsage
  received_ms INTEGER NOT NULL,
  PRIMARY KEY (device_id, day)
) WITHOUT ROWID;
CREATE INDEX usage_days_by_day ON usage_days(day);
CREATE TABLE usage_agents (
  device_id TEXT PRIMARY KEY,
  dropped_batches INTEGER NOT NULL,    -- cumulative, as the agent last said
  last_batch_ms INTEGER NOT NULL
);
CREATE TABLE stock_devices (
  serial TEXT PRIMARY KEY,
  name TEXT NOT NULL,
  model TEXT NOT NULL,
  manufacturer TEXT NOT NULL,
  kind TEXT NOT NULL,
  group_path TEXT NOT NULL,            -- '' when not placed in a group
  state TEXT NOT NULL,                 -- in_service, reusable, to_retire
  purchased TEXT NOT NULL,             -- YYYY-MM-DD or ''
  battery_health INTEGER NOT NULL,     -- percent; -1 unknown
  disk_total_bytes INTEGER NOT NULL,
  disk_free_bytes INTEGER NOT NULL,
  notes TEXT NOT NULL,
  imported_ms INTEGER NOT NULL,
  imported_by TEXT NOT NULL
);
)sql"},
      // The pedagogical store (server/catalog/catalog_store.h).
      {5, R"sql(
CREATE TABLE app_versions (
  id TEXT PRIMARY KEY,                 -- name@version
  name TEXT NOT NULL,                  -- the platform's package name
  version TEXT NOT NULL,
  metadata BLOB NOT NULL,              -- serialized preau.v1.AppMetadata
  sha256 TEXT NOT NULL,                -- the package in DIR/artifacts/<sha256>
  size INTEGER NOT NULL,
  state INTEGER NOT NULL,              -- preau.v1.ReviewState
  reason TEXT NOT NULL DEFAULT '',
  uploaded_by TEXT NOT NULL,
  uploaded_ms INTEGER NOT NULL,
  reviewed_by TEXT NOT NULL DEFAULT '',
  reviewed_ms INTEGER NOT NULL DEFAULT 0,
  UNIQUE (name, version)
);
-- One assignment per app and group; the closest group of a device wins.
CREATE TABLE app_assignments (
  group_path TEXT NOT NULL REFERENCES groups(path),
  name TEXT NOT NULL,
  version_id TEXT NOT NULL REFERENCES app_versions(id),
  required INTEGER NOT NULL,
  assigned_by TEXT NOT NULL,
  assigned_ms INTEGER NOT NULL,
  PRIMARY KEY (group_path, name)
);
-- The latest state each device reported per app.
CREATE TABLE app_device_status (
  device_id TEXT NOT NULL,
  name TEXT NOT NULL,
  status BLOB NOT NULL,                -- serialized preau.v1.AppStatus
  state TEXT NOT NULL,
  reported_ms INTEGER NOT NULL,
  PRIMARY KEY (device_id, name)
);
)sql"},
      // Web filter (server/filter): imported UT1 versions, per-profile snapshots, deltas.
      {6, R"sql(
-- One row per `filter import`; the newest is the current one. The compiled full set lives
-- in the artifact store under its SHA-256.
CREATE TABLE filter_imports (
  version INTEGER PRIMARY KEY,
  source TEXT NOT NULL,
  sha256 TEXT NOT NULL,
  size INTEGER NOT NULL,
  summary BLOB NOT NULL,               -- serialized preau.v1.FilterVersion (with categories)
  imported_by TEXT NOT NULL,
  imported_ms INTEGER NOT NULL
);
-- The snapshot built for one profile from one import. `version` is server-wide, so the
-- filter_version a device says it holds names exactly one snapshot (a delta base).
CREATE TABLE filter_snapshots (
  version INTEGER PRIMARY KEY,
  import_version INTEGER NOT NULL REFERENCES filter_imports(version),
  profile_key TEXT NOT NULL,           -- SHA-256 of the normalised profile
  sha256 TEXT NOT NULL,
  size INTEGER NOT NULL,
  created_ms INTEGER NOT NULL,
  UNIQUE (profile_key, import_version)
);
CREATE TABLE filter_deltas (
  base_version INTEGER NOT NULL,
  version INTEGER NOT NULL,
  sha256 TEXT NOT NULL,
  size INTEGER NOT NULL,
  PRIMARY KEY (base_version, version)
);
)sql"},
      {7, R"sql(
-- The filter snapshot each device last said it holds, so that after a server restart the
-- purge still keeps an offline device's delta base and the device gets a delta.
CREATE TABLE filter_device_holds (
  device_id TEXT PRIMARY KEY,
  version INTEGER NOT NULL,
  updated_ms INTEGER NOT NULL
);
)sql"},
      {8, R"sql(
-- The hourly purge of class commands reads only the rows that expired since the last one,
-- not the whole table, so the teacher's command that triggers it is not kept waiting.
CREATE INDEX class_commands_expiry ON class_commands(expires_ms);
)sql"},
      {9, R"sql(
-- How the screen lock stands on each device, as it last reported (class control).
ALTER TABLE devices ADD COLUMN lock_state TEXT NOT NULL DEFAULT '';
-- The rules a device could not enforce at all ("rule: why; ..."): not supported is its
-- own state, never counted as applied.
ALTER TABLE policy_compliance ADD COLUMN unsupported TEXT NOT NULL DEFAULT '';
)sql"},
      {10, R"sql(
-- Roles (server/admin/permissions.cc): a periscolaire operator's time windows, who created
-- each operator (separation of duties) and when its certificate ends (renewal); the group
-- each audit row acted on, so that an operator sees the audit of its own scope only.
ALTER TABLE operators ADD COLUMN hours TEXT NOT NULL DEFAULT '';
ALTER TABLE operators ADD COLUMN created_by TEXT NOT NULL DEFAULT '';
ALTER TABLE operators ADD COLUMN cert_expires_ms INTEGER NOT NULL DEFAULT 0;
ALTER TABLE audit ADD COLUMN group_path TEXT NOT NULL DEFAULT '';
)sql"},
      {11, R"sql(
-- The teachers' console (server/console/sessions.cc): one-time sign-in links and the
-- sessions they open, kept across a restart by the SHA-256 of their secret only.
CREATE TABLE console_links (
  token_hash TEXT PRIMARY KEY,
  operator_name TEXT NOT NULL,
  expires_ms INTEGER NOT NULL,         -- the link opens nothing after this
  session_until_ms INTEGER NOT NULL,   -- when the session it opens ends
  used INTEGER NOT NULL DEFAULT 0      -- 1 once redeemed (or its operator revoked)
);
CREATE INDEX console_links_operator ON console_links(operator_name);
CREATE TABLE console_sessions (
  cookie_hash TEXT PRIMARY KEY,
  operator_name TEXT NOT NULL,
  until_ms INTEGER NOT NULL
);
CREATE INDEX console_sessions_operator ON console_sessions(operator_name);
)sql"},
      {12, R"sql(
-- A teacher's focus as each device last reported it (held, or not held and why), and the
-- last class message a pupil dismissed on it.
ALTER TABLE devices ADD COLUMN focus_state TEXT NOT NULL DEFAULT '';
ALTER TABLE devices ADD COLUMN dismissed_message TEXT NOT NULL DEFAULT '';
ALTER TABLE devices ADD COLUMN dismissed_ms INTEGER NOT NULL DEFAULT 0;
)sql"},
      {13, R"sql(
-- Replicas on one PostgreSQL (server/fleet/replicas.h): which replica holds each
-- connected device's stream, until when (the holder pushes it forward; a dead replica's
-- rows expire), and what one replica hands another for a device it holds. A single
-- server on SQLite keeps them empty.
CREATE TABLE device_presence (
  device_id TEXT PRIMARY KEY,
  replica TEXT NOT NULL,
  expires_ms INTEGER NOT NULL
);
CREATE INDEX device_presence_replica ON device_presence(replica);
CREATE TABLE replica_relay (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  replica TEXT NOT NULL,
  device_id TEXT NOT NULL,
  body BLOB NOT NULL,
  close_code INTEGER NOT NULL,
  created_ms INTEGER NOT NULL
);
CREATE INDEX replica_relay_replica ON replica_relay(replica);
)sql"},
      {14, R"sql(
-- Replicas read only what changed: each replica's liveness is one row it pushes forward
-- (not every row of its devices), and a presence row says when it last changed (the
-- store's clock); a device that left keeps its row, with no replica, for a minute, so
-- that the others hear it left.
CREATE TABLE replica_heartbeats (
  replica TEXT PRIMARY KEY,
  expires_ms INTEGER NOT NULL
);
ALTER TABLE device_presence ADD COLUMN changed_ms INTEGER NOT NULL DEFAULT 0;
ALTER TABLE device_presence DROP COLUMN expires_ms;
CREATE INDEX device_presence_changed ON device_presence(changed_ms);
)sql"},
  };
  return kMigrations;
}

}  // namespace preau::server
