/// FNV-1a hashes: stable across processes and machines, unlike `Hasher`, so they can
/// name files in a cache. Not for security.
enum StableHash {
    static func fnv1a64<S: Sequence>(_ bytes: S, seed: UInt64 = 0xcbf2_9ce4_8422_2325) -> UInt64 where S.Element == UInt8 {
        var hash = seed
        for byte in bytes {
            hash ^= UInt64(byte)
            hash &*= 0x0000_0100_0000_01b3
        }
        return hash
    }

    /// 128 bits as 32 hex digits: two FNV-1a runs with different seeds.
    static func hex128(_ text: String) -> String {
        let bytes = Array(text.utf8)
        let first = fnv1a64(bytes)
        let second = fnv1a64(bytes, seed: 0x8422_2325_cbf2_9ce4)
        return hex(first) + hex(second)
    }

    private static func hex(_ value: UInt64) -> String {
        let digits = String(value, radix: 16)
        return String(repeating: "0", count: 16 - digits.count) + digits
    }
}
