using ILGPU;
using ILGPU.Algorithms;
using ILGPU.Runtime;

namespace Bmojo.Runtime.Kernels;

/// <summary>Everything one selective-scan launch reads and writes; absent optional inputs are empty views.</summary>
internal struct SelectiveScanArguments
{
    public ArrayView<float> U;             // (B, d_inner, L)
    public ArrayView<float> Delta;         // (B, d_inner, L)
    public ArrayView<float> A;             // (d_inner, N)
    public ArrayView<float> B;             // (B, N, L)
    public ArrayView<float> C;             // (B, N, L)
    public ArrayView<float> D;             // (d_inner) or empty
    public ArrayView<float> Z;             // (B, d_inner, L) or empty
    public ArrayView<float> DeltaBias;     // (d_inner) or empty
    public ArrayView<float> InitialState;  // (B, d_inner, N) or empty
    public ArrayView<float> Output;        // (B, d_inner, L)
    public ArrayView<float> FinalState;    // (B, d_inner, N)
    public int Batch;
    public int DInner;
    public int Length;
    public int DState;
    public int Lanes;                      // lanes per channel: a power of two >= N, at most 32
    public ScanOptions Options;

    public readonly bool Has(ScanOptions option) => (Options & option) != 0;
}

/// <summary>Which optional inputs a launch has (kernel parameters must be blittable: flags, not bools).</summary>
[Flags]
internal enum ScanOptions
{
    None = 0,
    D = 1,
    Z = 2,
    DeltaBias = 4,
    InitialState = 8,
    DeltaSoftplus = 16,
}

/// <summary>
/// The forward selective scan (mamba's <c>selective_scan_fwd</c> semantics). A block of <see cref="GroupSize"/>
/// threads serves consecutive channels <c>d</c> of one batch row <c>b</c>; each channel is a group of <c>Lanes</c>
/// threads, thread <c>n</c> holding state <c>h[n]</c> in a register in fp32. Time runs in chunks of <c>Lanes</c> steps.
/// Per chunk: the block stages <c>B[b, :, chunk]</c> and <c>C[b, :, chunk]</c> in shared memory with coalesced reads
/// (once for all its channels); each channel reads its <c>u, delta</c> with one coalesced read (thread <c>j</c> takes
/// step <c>t0 + j</c> and computes that step's size once) and shares them; then every thread runs the chunk's steps
/// on its state, writing <c>h · C</c> per step to shared memory, so the only dependency from step to step is one
/// multiply-add; last, thread <c>j</c> sums step <c>j</c>'s column over the states and writes <c>y</c> (with the
/// <c>D</c> skip and the <c>silu(z)</c> gate): one coalesced write per channel and chunk.
/// </summary>
internal static class SelectiveScanKernel
{
    public const int GroupSize = 256;
    public const int MaxLanes = 32;
    private const int Stride = MaxLanes + 1;                // odd row stride: a row per thread, no bank conflicts

    public static int BlocksPerBatch(int dInner, int lanes) => (dInner + GroupSize / lanes - 1) / (GroupSize / lanes);

    public static void Forward(SelectiveScanArguments p)
    {
        ArrayView<float> tileB = SharedMemory.Allocate<float>(MaxLanes * Stride);         // (N, chunk) of B[b]
        ArrayView<float> tileC = SharedMemory.Allocate<float>(MaxLanes * Stride);         // (N, chunk) of C[b]
        ArrayView<float> stepSizes = SharedMemory.Allocate<float>(GroupSize);             // (channel, chunk): dt
        ArrayView<float> stepInputs = SharedMemory.Allocate<float>(GroupSize);            // (channel, chunk): dt * u
        ArrayView<float> outputs = SharedMemory.Allocate<float>(GroupSize * Stride);      // (channel, N, chunk): h · C

        int lanes = p.Lanes;
        int blocksPerBatch = BlocksPerBatch(p.DInner, lanes);
        int b = Grid.IdxX / blocksPerBatch;
        int localChannel = Group.IdxX / lanes;
        int lane = Group.IdxX - localChannel * lanes;       // the state index n this thread holds
        int dRaw = (Grid.IdxX - b * blocksPerBatch) * (GroupSize / lanes) + localChannel;
        bool active = dRaw < p.DInner;                      // padding channels still reach every barrier
        int d = active ? dRaw : 0;
        int c = b * p.DInner + d;
        bool ownsState = active && lane < p.DState;
        int n = ownsState ? lane : 0;

        float a = ownsState ? p.A[d * p.DState + n] : 0f;
        float h = ownsState && p.Has(ScanOptions.InitialState) ? p.InitialState[c * p.DState + n] : 0f;
        float skip = p.Has(ScanOptions.D) ? p.D[d] : 0f;
        float bias = p.Has(ScanOptions.DeltaBias) ? p.DeltaBias[d] : 0f;
        int row = c * p.Length;                             // (b, d, :) in u, delta, z, output
        int batchRows = b * p.DState * p.Length;            // (b, :, :) in B and C
        int channelSteps = localChannel * lanes;            // this channel's slots in stepSizes, stepInputs
        int channelOutputs = localChannel * lanes * Stride; // this channel's (N, chunk) block of outputs

        for (int t0 = 0; t0 < p.Length; t0 += lanes)
        {
            int steps = XMath.Min(lanes, p.Length - t0);
            int mine = t0 + lane;                           // the step this thread loads and writes
            bool inChunk = lane < steps;
            float u = inChunk ? p.U[row + mine] : 0f;
            float dt = inChunk ? p.Delta[row + mine] + bias : 0f;
            if (p.Has(ScanOptions.DeltaSoftplus)) dt = dt <= 20f ? XMath.Log(1f + XMath.Exp(dt)) : dt;

            Group.Barrier();                                // the last chunk's shared values are all read
            stepSizes[Group.IdxX] = dt;
            stepInputs[Group.IdxX] = dt * u;
            for (int i = Group.IdxX; i < p.DState * lanes; i += GroupSize)
            {
                int state = i / lanes, step = i - state * lanes;
                int at = batchRows + state * p.Length + t0 + step;
                tileB[state * Stride + step] = step < steps ? p.B[at] : 0f;
                tileC[state * Stride + step] = step < steps ? p.C[at] : 0f;
            }
            Group.Barrier();

            if (ownsState)
            {
                for (int k = 0; k < steps; k++)
                {
                    h = XMath.Exp(stepSizes[channelSteps + k] * a) * h + stepInputs[channelSteps + k] * tileB[n * Stride + k];
                    outputs[channelOutputs + n * Stride + k] = h * tileC[n * Stride + k];
                }
            }
            Group.Barrier();

            if (active && inChunk)
            {
                float y = skip * u;
                for (int state = 0; state < p.DState; state++)
                    y += outputs[channelOutputs + state * Stride + lane];
                if (p.Has(ScanOptions.Z))
                {
                    float z = p.Z[row + mine];
                    y *= z / (1f + XMath.Exp(-z));
                }
                p.Output[row + mine] = y;
            }
        }

        if (ownsState) p.FinalState[c * p.DState + n] = h;
    }
}
