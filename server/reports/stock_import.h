// StockImport: reads the stock-taking spreadsheet of devices that run no agent (yet), as
// exported from a spreadsheet in CSV: a header row, then one device per row. Comma or
// semicolon separated (French spreadsheets write ';'), RFC 4180 quotes, UTF-8 with or
// without a BOM. Columns, in any order (case-insensitive; French names accepted):
//   serial (numero_serie)     required, the key: importing again updates the row
//   model (modele)            required
//   state (etat)              required: in service | reusable | to retire
//                             (also: en service, réemployable, à réformer)
//   name (nom), manufacturer (fabricant), kind (type), group (groupe),
//   purchased (achat, YYYY-MM-DD), battery_health (sante_batterie, 0-100),
//   disk_total_gb (stockage_go), disk_free_gb (libre_go), notes
// Errors name the file, the line and the column.
#pragma once

#include <string>
#include <vector>

#include "common/status.h"
#include "server/reports/usage_store.h"

namespace preau::server {

Result<std::vector<StockDevice>> ParseStockCsv(const std::string& csv,
                                               const std::string& file_name);

// "in service", "en service", "in_service"... -> "in_service"; "" if unknown.
std::string NormalizeStockState(const std::string& text);

}  // namespace preau::server
