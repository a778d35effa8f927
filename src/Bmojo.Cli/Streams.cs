namespace Bmojo.Cli;

/// <summary>Plain-text outputs of the CLI: <see cref="Out"/> for text meant to be piped (generated code),
/// <see cref="Error"/> for diagnostics, warnings and error messages (no markup).</summary>
public sealed record Streams(TextWriter Out, TextWriter Error);
