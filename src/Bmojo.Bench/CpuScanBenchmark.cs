using Bmojo.Runtime.Mixers;
using static TorchSharp.torch;

namespace Bmojo.Bench;

/// <summary>
/// <c>bench cpu-scan</c>: the selective scan on CPU tensors, fp32, forward and forward + backward (a gradient for
/// every input), the chunked scan of TorchSharp ops against the plain C# scan (<see cref="ScanPath.Cpu"/>), at a
/// short-sequence and a long-sequence training shape. Checks that both paths agree before timing them.
/// </summary>
public sealed class CpuScanBenchmark
{
    private static readonly (long Batch, long DInner, long Length, long DState)[] Shapes =
        [(16, 128, 64, 16), (4, 256, 1024, 16)];

    private readonly DeviceTimer timer = new(CPU);
    private readonly TextWriter output;
    private readonly int runs;

    public CpuScanBenchmark(TextWriter output, int runs)
    {
        this.output = output;
        this.runs = runs;
    }

    public void Run()
    {
        output.WriteLine($"bench cpu-scan: fp32, torch threads {get_num_threads()}, median of {runs} runs after 1 warm-up");
        foreach (var (batch, dInner, length, dState) in Shapes)
        {
            manual_seed(20261128);
            Tensor[] inputs =
            [
                randn(batch, dInner, length), randn(batch, dInner, length) * 0.5 - 1.0,     // u, delta: (B, d_inner, L)
                -exp(randn(dInner, dState) * 0.5),                                           // A: (d_inner, N)
                randn(batch, dState, length), randn(batch, dState, length),                  // B, C: (B, N, L)
                randn(dInner), randn(batch, dInner, length), randn(dInner) * 0.1,            // D, z, delta_bias
            ];
            foreach (Tensor t in inputs) t.requires_grad_();
            Tensor weight = randn(batch, dInner, length);
            using (no_grad())
            {
                double gap = (Scan(ScanPath.Chunked, inputs) - Scan(ScanPath.Cpu, inputs)).abs().max().item<float>();
                output.WriteLine($"B={batch} d_inner={dInner} L={length} N={dState}: max |chunked - cpu| = {gap:G3}");
            }
            foreach (ScanPath path in new[] { ScanPath.Chunked, ScanPath.Cpu })
            {
                Timing forward = timer.Measure(1, runs, _ =>
                {
                    using var scope = NewDisposeScope();
                    using var noGrad = no_grad();
                    Scan(path, inputs);
                });
                Timing training = timer.Measure(1, runs, _ =>
                {
                    using var scope = NewDisposeScope();
                    (Scan(path, inputs) * weight).sum().backward();
                    foreach (Tensor t in inputs) t.grad = null;
                });
                output.WriteLine($"  {path,-8} forward {forward.Milliseconds}; forward + backward {training.Milliseconds}");
            }
        }
    }

    private static Tensor Scan(ScanPath path, Tensor[] s) =>
        SelectiveScan.Run(path, s[0], s[1], s[2], s[3], s[4], s[5], s[6], s[7], deltaSoftplus: true, initialState: null,
                          keepFinalState: false).Output;
}
