using System.Collections.Concurrent;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.Text;
using SpecDiagnostic = Bmojo.Dsl.Language.Diagnostics.Diagnostic;
using SpecSeverity = Bmojo.Dsl.Language.Diagnostics.Severity;

namespace Bmojo.Dsl.Generator
{
    /// <summary>Spec diagnostics as Roslyn diagnostics located in the spec file, so the build prints
    /// <c>specs/x.arch(3,5): error BMJ0123: ...</c>.</summary>
    internal static class RoslynDiagnostics
    {
        private const string Category = "Bmojo.Dsl";

        private static readonly ConcurrentDictionary<(string Id, SpecSeverity Severity), DiagnosticDescriptor> Descriptors =
            new ConcurrentDictionary<(string, SpecSeverity), DiagnosticDescriptor>();

        public static Diagnostic From(SpecDiagnostic diagnostic)
        {
            DiagnosticDescriptor descriptor = Descriptors.GetOrAdd((diagnostic.Id, diagnostic.Severity), Describe);
            return Diagnostic.Create(descriptor, Locate(diagnostic), diagnostic.Message);
        }

        private static Location Locate(SpecDiagnostic diagnostic)
        {
            if (string.IsNullOrEmpty(diagnostic.Path)) return Location.None;
            var span = new TextSpan(diagnostic.Span.Start, diagnostic.Span.Length);
            var lines = new LinePositionSpan(
                new LinePosition(diagnostic.Start.Line, diagnostic.Start.Character),
                new LinePosition(diagnostic.End.Line, diagnostic.End.Character));
            return Location.Create(diagnostic.Path, span, lines);
        }

        // The catalogue (ids, messages, severities) lives in Bmojo.Dsl.Language, shared with the CLI;
        // each id becomes one descriptor whose message is the spec diagnostic's own text.
        private static DiagnosticDescriptor Describe((string Id, SpecSeverity Severity) key) =>
            new DiagnosticDescriptor(
                key.Id,
                title: key.Id,
                messageFormat: "{0}",
                Category,
                key.Severity switch
                {
                    SpecSeverity.Error => DiagnosticSeverity.Error,
                    SpecSeverity.Warning => DiagnosticSeverity.Warning,
                    _ => DiagnosticSeverity.Info,
                },
                isEnabledByDefault: true);
    }
}
