using System;

namespace Bmojo.Dsl.Language.Diagnostics
{
    public enum Severity { Error, Warning, Info }

    /// <summary>A zero-based line and character position in a spec file.</summary>
    public readonly record struct LinePosition(int Line, int Character);

    /// <summary>A half-open character range [Start, Start + Length) in a spec file.</summary>
    public readonly record struct TextSpan(int Start, int Length)
    {
        public int End => Start + Length;
    }

    /// <summary>One problem in a spec, at an exact place. Equatable, so it can flow through the incremental pipeline.</summary>
    /// <param name="Id">A stable catalogue id, BMJ0001 ...</param>
    /// <param name="Path">The spec file's path as given to the compiler.</param>
    public sealed record Diagnostic(
        string Id,
        Severity Severity,
        string Message,
        string Path,
        TextSpan Span,
        LinePosition Start,
        LinePosition End)
    {
        /// <summary>For a BMJ0010 ("and N more errors in FILE"): N, the file's diagnostics it stands for; 0 otherwise.</summary>
        public int Hidden { get; init; }

        /// <summary>MSBuild's format: <c>path(line,col): error BMJ0001: message</c> (one-based line and column).</summary>
        public override string ToString() =>
            $"{Path}({Start.Line + 1},{Start.Character + 1}): {Severity.ToString().ToLowerInvariant()} {Id}: {Message}";
    }
}
