// libFuzzer harness for Lumen's safetensors reader: any bytes must parse or be refused
// with a FormatError, never crash, hang or leak. Built with the reader's own sources by
// Scripts/fuzz.
import Foundation

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzSafeTensors(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Data(bytes: data, count: size)
    if let file = try? SafeTensors(data: bytes, file: "fuzz") {
        // Whatever parsed must serialise and parse back to the same tensors.
        if let again = try? SafeTensors(data: try file.serialized(), file: "fuzz-again"),
           again.tensors.keys.sorted() != file.tensors.keys.sorted() {
            fatalError("round trip changed the tensor names")
        }
    }
    return 0
}
