// Test harness: see harness.h (landing next).
