using System.Globalization;
using Bmojo.Dsl.Language.Plan;

namespace Bmojo.Dsl.Language.Diagnostics
{
    /// <summary>One file's place for reporting: turns a descriptor, a span and arguments into a <see cref="Diagnostic"/>.</summary>
    internal sealed class SourceFile
    {
        public SourceFile(string path, EquatableArray<int> lineStarts)
        {
            Path = path;
            LineStarts = lineStarts;
        }

        public string Path { get; }

        public EquatableArray<int> LineStarts { get; }

        /// <summary>The one-based line of an offset, as messages quote it.</summary>
        public int LineNumber(int offset) => LineMap.Position(LineStarts, offset).Line + 1;

        public Diagnostic Create(DiagnosticDescriptor descriptor, TextSpan span, params object[] args) =>
            new Diagnostic(
                descriptor.Id,
                descriptor.Severity,
                string.Format(CultureInfo.InvariantCulture, descriptor.MessageFormat, args),
                Path,
                span,
                LineMap.Position(LineStarts, span.Start),
                LineMap.Position(LineStarts, span.End));
    }
}
