import CLShim

/// A failed OpenCL or CLBlast call, with its status named (`CL_OUT_OF_RESOURCES`),
/// never a bare number.
public struct CLError: Error, CustomStringConvertible, Equatable {
    /// The raw OpenCL or CLBlast status.
    public let status: Int32
    /// What Lumen was doing, e.g. "allocating 4 MB on pthread-skylake".
    public let operation: String

    /// The status's symbolic name.
    public var name: String { CLError.name(of: status) }

    public var description: String { "\(operation) failed: \(name)" }

    /// The symbolic name of any OpenCL or CLBlast status.
    public static func name(of status: Int32) -> String {
        String(cString: lm_status_name(status))
    }
}

/// Throws a `CLError` unless `status` is `CL_SUCCESS`.
@inline(__always)
func check(_ status: Int32, _ operation: @autoclosure () -> String) throws {
    if status != 0 { throw CLError(status: status, operation: operation()) }
}
