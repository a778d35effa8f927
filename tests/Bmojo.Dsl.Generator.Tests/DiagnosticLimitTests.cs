using Microsoft.CodeAnalysis;

namespace Bmojo.Dsl.Generator.Tests;

/// <summary>A file that is no spec (random bytes, a log) gives the build 100 errors and one BMJ0010, not millions.</summary>
public sealed class DiagnosticLimitTests
{
    [Fact]
    public void A_file_of_garbage_reports_100_errors_then_one_count_of_the_rest()
    {
        var random = new Random(1);
        string garbage = new(Enumerable.Range(0, 20_000).Select(_ => "$%^&?!@\n "[random.Next(9)]).ToArray());
        GeneratorRunResult result = GeneratorHarness.Run(new SpecFile("/app/garbage.arch", garbage));

        Assert.Null(result.Exception);
        Assert.Equal(101, result.Diagnostics.Length);
        Diagnostic last = result.Diagnostics[^1];
        Assert.Equal("BMJ0010", last.Id);
        Assert.Matches(@"^and \d+ more errors in /app/garbage\.arch$", last.GetMessage());
    }
}
