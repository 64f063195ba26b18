import OceanKit
import Essentials
import FoundationEssentials

/// Job ids sort by creation time: a millisecond timestamp in base 36, then random digits.
enum JobID {
    static func make(now: Date) -> String {
        let milliseconds = UInt64(max(0, now.timeIntervalSince1970 * 1000))
        let time = String(milliseconds, radix: 36)
        let random = String(UInt32.random(in: 0...UInt32.max), radix: 36)
        return "job_" + String(repeating: "0", count: max(0, 9 - time.count)) + time
            + String(repeating: "0", count: max(0, 7 - random.count)) + random
    }
}
