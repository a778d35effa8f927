using Microsoft.CodeAnalysis;
using SpecDiagnostic = Bmojo.Dsl.Language.Diagnostics.Diagnostic;
using SpecLinePosition = Bmojo.Dsl.Language.Diagnostics.LinePosition;
using SpecSeverity = Bmojo.Dsl.Language.Diagnostics.Severity;
using SpecTextSpan = Bmojo.Dsl.Language.Diagnostics.TextSpan;

namespace Bmojo.Dsl.Generator.Tests;

public sealed class RoslynDiagnosticsTests
{
    [Theory]
    [InlineData(SpecSeverity.Error, DiagnosticSeverity.Error)]
    [InlineData(SpecSeverity.Warning, DiagnosticSeverity.Warning)]
    [InlineData(SpecSeverity.Info, DiagnosticSeverity.Info)]
    public void A_spec_diagnostic_keeps_its_id_severity_message_and_place(SpecSeverity severity, DiagnosticSeverity expected)
    {
        var spec = new SpecDiagnostic("BMJ0306", severity, "rule 'mixer every 8' matches no layer", "/s/x.arch",
                                      new SpecTextSpan(17, 5), new SpecLinePosition(2, 4), new SpecLinePosition(2, 9));

        Diagnostic diagnostic = RoslynDiagnostics.From(spec);

        Assert.Equal("BMJ0306", diagnostic.Id);
        Assert.Equal(expected, diagnostic.Severity);
        Assert.Equal(spec.Message, diagnostic.GetMessage());
        Assert.Equal("/s/x.arch", diagnostic.Location.GetLineSpan().Path);
        Assert.Equal(new Microsoft.CodeAnalysis.Text.TextSpan(17, 5), diagnostic.Location.SourceSpan);
        Assert.Equal(new Microsoft.CodeAnalysis.Text.LinePosition(2, 4), diagnostic.Location.GetLineSpan().StartLinePosition);
        Assert.Equal(spec.ToString(), diagnostic.ToString());
    }

    [Fact]
    public void A_diagnostic_without_a_file_has_no_location() =>
        Assert.Equal(Location.None, RoslynDiagnostics.From(Language.SpecCompiler.InternalError("", "boom")).Location);
}
