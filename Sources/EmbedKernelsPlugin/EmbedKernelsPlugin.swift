import Foundation
import PackagePlugin

/// Embeds every `Kernels/*.cl` file into the target as a Swift string, so an installed
/// `lumen` needs no kernel files at run time and `Kernels/` stays the single source.
@main
struct EmbedKernelsPlugin: BuildToolPlugin {
    func createBuildCommands(context: PluginContext, target: Target) throws -> [Command] {
        let kernels = context.package.directoryURL.appending(path: "Kernels")
        let sources = try FileManager.default
            .contentsOfDirectory(at: kernels, includingPropertiesForKeys: nil)
            .filter { $0.pathExtension == "cl" }
            .sorted { $0.lastPathComponent < $1.lastPathComponent }
        let output = context.pluginWorkDirectoryURL.appending(path: "EmbeddedKernels.swift")
        return [
            .buildCommand(
                displayName: "Embedding \(sources.count) OpenCL kernel files",
                executable: try context.tool(named: "embed-kernels").url,
                arguments: [output.path] + sources.map(\.path),
                inputFiles: sources,
                outputFiles: [output]
            )
        ]
    }
}
