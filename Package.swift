// swift-tools-version: 6.0
import PackageDescription

// Debian puts Open MPI's mpi.h under the machine's multiarch folder.
#if arch(arm64)
let multiarch = "aarch64-linux-gnu"
#else
let multiarch = "x86_64-linux-gnu"
#endif

let package = Package(
    name: "Lumen",
    products: [
        .library(name: "Lumen", targets: ["Lumen"]),
        .executable(name: "lumen", targets: ["lumen"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/jpsim/Yams", from: "5.0.1"),
        .package(url: "https://github.com/apple/swift-protobuf", from: "1.39.0"),
        .package(url: "https://github.com/weichsel/ZIPFoundation", from: "0.9.20"),
    ],
    targets: [
        // The only code that calls OpenCL, CLBlast, the image and HDF5 libraries, cairo and MPI.
        .target(
            name: "CLShim",
            cSettings: [.define("CL_TARGET_OPENCL_VERSION", to: "120"),
                        .unsafeFlags(["-I/usr/include/hdf5/serial", "-I/usr/include/\(multiarch)/mpi"])],
            linkerSettings: [.linkedLibrary("OpenCL"), .linkedLibrary("clblast"), .linkedLibrary("jpeg"), .linkedLibrary("png"), .linkedLibrary("cairo"), .linkedLibrary("hdf5_serial"), .linkedLibrary("mpi")]
        ),
        // Build-time tool that turns Kernels/*.cl into Swift string literals.
        .executableTarget(name: "embed-kernels"),
        .plugin(
            name: "EmbedKernelsPlugin",
            capability: .buildTool(),
            dependencies: ["embed-kernels"],
            path: "Sources/EmbedKernelsPlugin"
        ),
        .target(
            name: "Lumen",
            dependencies: ["CLShim", .product(name: "Yams", package: "Yams"),
                           .product(name: "SwiftProtobuf", package: "swift-protobuf"),
                           .product(name: "ZIPFoundation", package: "ZIPFoundation")],
            exclude: ["Export/onnx.proto"],
            plugins: ["EmbedKernelsPlugin"]
        ),
        .executableTarget(
            name: "lumen",
            dependencies: [
                "Lumen",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        .testTarget(name: "LumenTests", dependencies: ["Lumen", "CLShim"], exclude: ["Fixtures"]),
    ],
    swiftLanguageModes: [.v5]
)
