// Figures the benchmarks print: milliseconds of a steady-clock duration, percentiles.
#pragma once

#include <algorithm>
#include <chrono>
#include <vector>

namespace preau::bench {

inline double Ms(std::chrono::steady_clock::duration d) {
  return std::chrono::duration<double, std::milli>(d).count();
}

// The value at fraction `p` (0..1) of the sorted samples (nearest rank).
inline double Percentile(std::vector<double> v, double p) {
  std::sort(v.begin(), v.end());
  size_t i = static_cast<size_t>(p * (v.size() - 1) + 0.5);
  return v[std::min(i, v.size() - 1)];
}

}  // namespace preau::bench
