#if canImport(Glibc)
import Glibc
#endif

/// The process's open-descriptor limit. Each client connection is a descriptor; a service left at
/// the usual soft limit of 1024 runs out long before the machine does.
enum DescriptorLimit {
    /// Raises the soft `RLIMIT_NOFILE` to the hard one; returns the limit in force afterwards (nil
    /// when it cannot be read).
    @discardableResult
    static func raiseToHardLimit() -> Int? {
        var limit = rlimit()
        guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0 else { return nil }
        if limit.rlim_cur < limit.rlim_max {
            var raised = limit
            raised.rlim_cur = limit.rlim_max
            if setrlimit(Int32(RLIMIT_NOFILE.rawValue), &raised) == 0 { limit = raised }
        }
        return limit.rlim_cur == rlim_t.max ? Int.max : Int(clamping: limit.rlim_cur)
    }
}
