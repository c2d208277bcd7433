// The CLI library: see admin_client.h (landing next).
