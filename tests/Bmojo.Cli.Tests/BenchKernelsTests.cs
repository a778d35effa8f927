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
            // The register kernels reading bf16 give the fp32 copies' results exactly (the same arithmetic, rounded once).
            Assert.Contains("agree    bf16 read vs fp32 copies: max |diff| y 0.0E+000, du / d delta / dz 0.0E+000 (0: the same kernels' arithmetic)", lines);
        }
    }

    [Fact]
    public void Ptx_compiles_every_kernel_it_lists_for_sm_90_without_a_gpu()
    {
        string directory = Path.Combine(Path.GetTempPath(), $"bmojo-ptx-{Guid.NewGuid():N}");
        try
        {
            Cli.Result result = Cli.Run("bench", "ptx", directory);
            Assert.True(result.ExitCode == 0, result.Errors + result.Text);
            string[] lines = result.Text.Split('\n', StringSplitOptions.RemoveEmptyEntries);
            Assert.All(lines, l => Assert.Matches(@"^\w+\.\w+\s+\d+ lines \| local \d+ B", l));
            // Every kernel the runtime launches, wherever its operation's folder puts it; the register scans as their fp32
            // and bf16 instances.
            string[] expected =
            [
                "AdamWKernel.Bf16", "AdamWKernel.Bf16Pairs", "AdamWKernel.Fp32",
                "BmojoAttentionKernel.Forward", "InnovationKernel.Run",
                "RegisterScanBackwardKernel.Backward_Bf16Elements", "RegisterScanBackwardKernel.Backward_Fp32Elements",
                "RegisterScanKernel.Forward_Bf16Elements", "RegisterScanKernel.Forward_Fp32Elements",
                "SelectiveScanBackwardKernel.Backward", "SelectiveScanKernel.Forward",
                "TensorCoreAttentionBackwardKernel.KeyGradients", "TensorCoreAttentionBackwardKernel.QueryGradients",
                "TensorCoreAttentionKernel.Forward",
            ];
            Assert.Equal(expected, lines.Select(l => l.Split(' ')[0]).Order());
            Assert.Equal(expected, Directory.GetFiles(directory, "*.ptx").Select(Path.GetFileNameWithoutExtension).Order());
            Assert.All(Directory.GetFiles(directory, "*.ptx"), f => Assert.Contains(".visible .entry ", File.ReadAllText(f)));
        }
        finally
        {
            if (Directory.Exists(directory)) Directory.Delete(directory, recursive: true);
        }
    }

    [Fact]
    public void The_bench_verbs_refuse_bad_arguments_in_one_line()
    {
        Cli.Result runs = Cli.Run("bench", "cpu-scan", "--runs", "0");
        Assert.Equal((2, "error: --runs must be positive (got 0)"), (runs.ExitCode, runs.Errors.Trim()));
        Cli.Result ptx = Cli.Run("bench", "ptx");
        Assert.Equal(2, ptx.ExitCode);
        Assert.DoesNotContain("   at ", ptx.Errors);
        Cli.Result only = Cli.Run("bench", "kernels", "--cpu", "--only", "conv");
        Assert.Equal((2, "error: --only must be one of: scan, bmojo, tc, innovation (got 'conv')"), (only.ExitCode, only.Errors.Trim()));
    }
}
