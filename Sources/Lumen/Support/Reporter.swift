/// Where library code tells the user something besides a command's own results: a slow
/// first-use step (compiling kernels), a fallback it took. The CLI passes one in; the
/// library prints nothing itself.
public struct Reporter: Sendable {
    /// Progress worth a line: "compiling the 'conv' kernels for … (first use)".
    public var note: @Sendable (String) -> Void
    /// Something the user should know went other than planned.
    public var warning: @Sendable (String) -> Void

    public init(note: @escaping @Sendable (String) -> Void, warning: @escaping @Sendable (String) -> Void) {
        self.note = note
        self.warning = warning
    }

    /// Tells nobody.
    public static let silent = Reporter(note: { _ in }, warning: { _ in })
}
