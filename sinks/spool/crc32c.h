// CRC-32C (Castagnoli, the polynomial of iSCSI, ext4 metadata and Kafka's record batches).
//
// Contract
//  * crc32c_extend(crc, data, n) continues a CRC: crc32c(ab) == crc32c_extend(crc32c(a), b).
//    Start from 0. The result is the standard, finalized CRC-32C: crc32c("123456789") is
//    0xE3069283.
//  * Uses the SSE4.2 crc32 instruction when the CPU has it (checked once), else a portable
//    slicing-by-8 table. Both give identical results; crc32c_portable() is exposed for tests.
//  * Thread-safe, no allocation.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace sluice {

std::uint32_t crc32c_extend(std::uint32_t crc, const void* data, std::size_t n);
inline std::uint32_t crc32c(const void* data, std::size_t n) { return crc32c_extend(0, data, n); }
inline std::uint32_t crc32c(std::string_view s) { return crc32c_extend(0, s.data(), s.size()); }

std::uint32_t crc32c_portable(std::uint32_t crc, const void* data, std::size_t n);
bool crc32c_hardware_available();

}  // namespace sluice
