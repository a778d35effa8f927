using System.Text.RegularExpressions;
using Bmojo.Bench;

namespace Bmojo.Cli.Tests;

/// <summary><c>bmojo bench kernels --cpu</c>: on ILGPU's CPU accelerator only what is meaningful there, times and
/// agreement; no device ceilings, rates against them, speed-ups or launch overhead (issue 15).</summary>
public sealed class BenchKernelsTests
{
    // What the CUDA run prints and the CPU run must not: ceilings, rates and shares of them, ratios, the launch overhead.
    private static readonly string[] GpuOnly = ["ceiling", "TB/s", "TFLOP/s", "% of", "x faster", "speed-up", "launch ", "overhead"];

    [Theory]
    [InlineData("innovation", "innov    fused, 32 tokens/tile (default)", "agree    fused vs reference: s differs at 0, edge at 0, positions at 0 of 80 tokens")]
    [InlineData("scan", "scan     fused (ILGPU)", "agree    fused vs sequential reference: |y - ref| / |ref| = ")]
    public void On_the_cpu_it_prints_times_and_agreement_and_no_gpu_ceilings_or_ratios(string kernel, string timed, string agreement)
    {
        Cli.Result result = Cli.Run("bench", "kernels", "--cpu", "--only", kernel);
        Assert.True(result.ExitCode == 0, result.Errors + result.Text);
        string[] lines = result.Text.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => l.TrimEnd()).ToArray();
        Assert.StartsWith("bench kernels on cpu (ILGPU CPU accelerator)", lines[0]);
        Assert.Contains($"note     {DeviceCeilings.CpuNote}", lines);
        foreach (string line in lines.Where(l => l != $"note     {DeviceCeilings.CpuNote}"))
            foreach (string forbidden in GpuOnly)
                Assert.False(line.Contains(forbidden, StringComparison.Ordinal), $"'{forbidden}' printed on the CPU: {line}");
        // The timed lines carry a real time; the agreement line says the paths agree.
        string time = Assert.Single(lines, l => l.StartsWith(timed, StringComparison.Ordinal));
        Match ms = Regex.Match(time, @"(?<ms>\d+\.\d{3}) ms \(min [\d.]+, max [\d.]+, n=\d+\)$");
        Assert.True(ms.Success && double.Parse(ms.Groups["ms"].Value, System.Globalization.CultureInfo.InvariantCulture) > 0, time);
        Assert.Contains(lines, l => l.StartsWith(agreement, StringComparison.Ordinal));
        if (kernel == "scan")
        {
            string relative = lines.Single(l => l.StartsWith(agreement, StringComparison.Ordinal))[agreement.Length..].Split(',')[0];
            Assert.True(double.Parse(relative, System.Globalization.CultureInfo.InvariantCulture) < 1e-5, relative);
        }
    }
}
