using System.Runtime.CompilerServices;
using Bmojo.Runtime.Mixers;
using ILGPU;
using ILGPU.Algorithms;
using ILGPU.Runtime;

namespace Bmojo.Runtime.Ops.SelectiveScan;

/// <summary>Everything one register-state backward launch reads and writes; absent optional inputs are empty views.</summary>
internal struct RegisterScanGradientArguments
{
    public ArrayView<float> U;             // (B, d_inner, L)
    public ArrayView<float> Delta;         // (B, d_inner, L)
    public ArrayView<float> A;             // (d_inner, N)
    public ArrayView<float> B;             // (B, N, L)
    public ArrayView<float> C;             // (B, N, L)
    public ArrayView<float> D;             // (d_inner) or empty
    public ArrayView<float> Z;             // (B, d_inner, L) or empty
    public ArrayView<float> DeltaBias;     // (d_inner) or empty
    public ArrayView<float> GradOutput;    // (B, d_inner, L)
    public ArrayView<float> Checkpoints;   // (B, d_inner, chunks, N): the state before every 8 steps (RegisterScanKernel)
    public ArrayView<float> GradU;         // (B, d_inner, L)
    public ArrayView<float> GradDelta;     // (B, d_inner, L)
    public ArrayView<float> GradZ;         // (B, d_inner, L) or empty
    public ArrayView<float> GradA;         // (B, segments, d_inner, N): summed over B and the segments afterwards
    public ArrayView<float> GradB;         // (B, N, L), zeroed: the kernel adds every block's sums in
    public ArrayView<float> GradC;         // (B, N, L), zeroed
    public ArrayView<float> GradD;         // (B, segments, d_inner): summed afterwards
    public ArrayView<float> GradDeltaBias; // (B, d_inner)
    public ArrayView<float> SegmentCarries; // segmented: (B, segments, d_inner, N), each segment's local adjoint carried out of its start
    public ArrayView<float> SegmentSums;   // segmented: (B, segments, d_inner), each segment's sum of dt
    // With ScanOptions.Bf16: u, delta, z, B, C and the output gradient read from these raw bf16 views (same shapes)
    // instead of the fp32 ones above, du, d delta, dz written to GradU16, GradDelta16, GradZ16.
    public ArrayView<ushort> U16, Delta16, Z16, B16, C16, GradOutput16, GradU16, GradDelta16, GradZ16;
    public int SegmentSteps;               // steps per segment along L (a multiple of 32, or L when one)
    public int Segments;                   // segments along L (1: not segmented); dA, dD, d delta_bias are (B, segments, ...)
    public int Batch;
    public int DInner;
    public int Length;
    public int DState;
    public ScanOptions Options;            // D, Z, DeltaBias, DeltaSoftplus

    public readonly bool Has(ScanOptions option) => (Options & option) != 0;
}

/// <summary>
/// The backward selective scan for d_state &lt;= 16 in the layout of <see cref="RegisterScanKernel"/> (a block of 64
/// channels of one batch row, two lanes a channel, 8 states a lane in registers), from the forward kernel's
/// checkpoints: the state before every <see cref="TileSteps"/> steps. Tiles of 8 steps run from the last to the
/// first. Per tile the block stages <c>dt</c>, <c>u</c>, the gated output gradient <c>gy = g · silu(z)</c>, the
/// gate's factor <c>g σ(z)(1 + z(1 − σ(z)))</c> and softplus' slope as (channel, step) tiles (each computed once per
/// element by the thread that loads it) and B, C as (step, state) rows. Each lane then recomputes the tile's 9
/// states from the checkpoint into registers (<c>h0 .. h8</c>, straight-line code; with z it also forms <c>y</c> and
/// <c>dz = y · factor</c>), and walks the steps backwards with the adjoint <c>λ = gy C + carry</c> in registers:
/// <c>dA</c> sums in registers, <c>du</c> and <c>d(dt)</c> are sums over the lane's states plus one shuffle with the
/// partner, and <c>dB, dC</c> (sums over channels) are reduced across the warp's 16 channels by a transpose-reduce
/// (<see cref="TransposeReduce"/>: 15 shuffles, after which each lane holds one of the 32 sums). The block adds its
/// 4 warps' sums in shared memory and adds them into <c>dB, dC</c> with one global atomic per (state, step) and
/// block. <c>du, d(dt), dz</c> leave through shared tiles as coalesced writes; <c>dA, dD, d delta_bias</c> are
/// written per (batch row, segment). With segments along L the block serves one of them: with
/// <see cref="ScanOptions.SegmentLocal"/> only the adjoint walks its steps (from none at the segment's end) and
/// its carry out and sum of dt are kept; with <see cref="ScanOptions.Segmented"/> it starts from the carry the
/// segments after it combine to.
/// </summary>
internal static class RegisterScanBackwardKernel
{
    public const int TileSteps = RegisterScanKernel.ChunkSteps;
    public const int Channels = RegisterScanKernel.Channels;
    public const int Threads = 2 * Channels;

    private const int Warps = Threads / 32;
    private const int RowQuads = TileSteps / 4 + 1;      // a (channel, step) row: 12 floats, 16-byte aligned
    private const int RowFloats = 4 * RowQuads;
    private const int TileQuads = Channels * RowQuads;
    private const int StepQuads = 8;                     // a (step, state) row: B[b, 0..15, t] then C[b, 0..15, t]
    private const int SumStride = 33;                    // a warp's sums of one step: dB of states 0..15, dC of 0..15
    private const int SumQuads = Warps * TileSteps * SumStride / 4;
    private const float Log2E = 1.442695041f, Ln2 = 0.6931471806f;

    // The (channel, step) tiles, in shared-memory order: dt, u, gy, gate factor, slope in; du, d(dt), dz out.
    private const int StepSizes = 0, Inputs = 1, Grads = 2, GateFactors = 3, Slopes = 4, GradInputs = 5, GradSteps = 6, GradGates = 7;
    private const int ChannelTiles = 8;

    /// <summary>Float4s of dynamic shared memory: 8 (channel, step) tiles (dt, u, gy, gate factor, slope in; du,
    /// d(dt), dz out), the B, C rows, the warps' dB, dC sums and the block's delta biases.</summary>
    public const int SharedQuads = ChannelTiles * TileQuads + TileSteps * StepQuads + SumQuads + Channels / 4;

    public static int BlocksPerBatch(int dInner) => RegisterScanKernel.BlocksPerBatch(dInner);

    public static void Backward<TElements>(RegisterScanGradientArguments p)
        where TElements : struct, IScanElements
    {
        ArrayView<Float4> shared = SharedMemory.GetDynamic<Float4>();
        var tiles = new Tiles
        {
            ChannelRows = shared.SubView(0, ChannelTiles * TileQuads),
            Rows = shared.SubView(ChannelTiles * TileQuads, TileSteps * StepQuads),
            Sums = shared.SubView(ChannelTiles * TileQuads + TileSteps * StepQuads, SumQuads).Cast<float>(),
            Biases = shared.SubView(ChannelTiles * TileQuads + TileSteps * StepQuads + SumQuads, Channels / 4).Cast<float>(),
        };
        int blocksPerBatch = BlocksPerBatch(p.DInner);
        int row = Grid.IdxX / blocksPerBatch;                  // (b, segment)
        int b = row / p.Segments, segment = row - b * p.Segments;
        int d0 = (Grid.IdxX - row * blocksPerBatch) * Channels;
        bool local = p.Has(ScanOptions.SegmentLocal);
        if (local && segment == 0) return;                     // the first segment's local adjoint is never read
        int tStart = segment * p.SegmentSteps, tEnd = XMath.Min(tStart + p.SegmentSteps, p.Length);
        int firstChunk = tStart / TileSteps, lastChunk = (tEnd - 1) / TileSteps;
        var loader = new Loader<TElements>(p, b, d0, Group.IdxX, tiles);

        // This thread as one of its channel's two lanes.
        int channel = Group.IdxX >> 1;
        bool active = d0 + channel < p.DInner;                 // padding channels repeat the last one with gy = 0
        int d = XMath.Min(d0 + channel, p.DInner - 1);
        int c = b * p.DInner + d;
        int laneIndex = Group.IdxX & 31;
        StateLanes lanes = StateLanes.Of(laneIndex);
        States a = lanes.Load(p.A, d * p.DState, p.DState, Log2E);
        var lane = new Lane
        {
            Lanes = lanes,
            Bits = laneIndex,
            Skip = p.Has(ScanOptions.D) ? p.D[d] : 0f,
            WritesRows = (Group.IdxX & 1) == 0,               // the even lane stores the channel's du, d(dt), dz
            Row = tiles.ChannelRows.SubView(channel * RowQuads),
            RowsLo = tiles.Rows.SubView(lanes.Lo / 4),
            RowsHi = tiles.Rows.SubView(lanes.Hi / 4),
            Sums = tiles.Sums.SubView((Group.IdxX >> 5) * TileSteps * SumStride + SumColumn(laneIndex)),
        };
        int chunks = RegisterScanKernel.Chunks(p.Length);
        int checkpoints = c * chunks * p.DState;              // (b, d, :, :) in Checkpoints

        if (Group.IdxX < Channels)
            tiles.Biases[Group.IdxX] = p.Has(ScanOptions.DeltaBias) ? p.DeltaBias[XMath.Min(d0 + Group.IdxX, p.DInner - 1)] : 0f;
        TileReads next = loader.Read(lastChunk * TileSteps);
        States nextStart = local ? default : lanes.Load(p.Checkpoints, checkpoints + lastChunk * p.DState, p.DState, 1f);
        Group.Barrier();

        var sums = new ChannelSums();
        States carry = p.Has(ScanOptions.Segmented) && segment < p.Segments - 1 ? SegmentEnd(p, lanes, a, b, segment, d) : default;
        float stepSum = 0f;
        for (int chunk = lastChunk; chunk >= firstChunk; chunk--)
        {
            int t0 = chunk * TileSteps;
            TileReads current = next;
            States start = nextStart;
            if (chunk > firstChunk)
            {
                next = loader.Read(t0 - TileSteps);
                if (!local) nextStart = lanes.Load(p.Checkpoints, checkpoints + (chunk - 1) * p.DState, p.DState, 1f);
            }
            loader.Stage(current, t0);
            Group.Barrier();

            if (local) LocalTile(ref carry, ref stepSum, a, lane);
            else Tile(ref carry, ref sums, start, a, lane, p.Has(ScanOptions.Z));
            Group.Barrier();

            if (!local) loader.Write(t0);
        }

        if (!active) return;
        int segmentRow = (b * p.Segments + segment) * p.DInner + d;
        if (local)
        {
            lanes.Store(p.SegmentCarries, segmentRow * p.DState, p.DState, carry);
            if (lane.WritesRows) p.SegmentSums[segmentRow] = stepSum;
            return;
        }
        lanes.Store(p.GradA, segmentRow * p.DState, p.DState, sums.A);
        if (lane.WritesRows)
        {
            p.GradD[segmentRow] = sums.D;
            p.GradDeltaBias[segmentRow] = sums.Bias;
        }
    }

    /// <summary>The adjoint carried into the last step of segment <paramref name="segment"/> (&lt; segments - 1) from
    /// pass 1's local carries <c>K_j</c> (each segment's carry out of its first step, from none at its end) and step
    /// sums <c>E_j</c>: <c>K = K_last</c>, then <c>K = 2^(a E_j) K + K_j</c> for j = segments - 2 down to segment + 1.</summary>
    private static States SegmentEnd(RegisterScanGradientArguments p, StateLanes lanes, States a, int b, int segment, int d)
    {
        int first = b * p.Segments * p.DInner + d;             // (b, 0, d) in SegmentSums
        States carry = lanes.Load(p.SegmentCarries, (first + (p.Segments - 1) * p.DInner) * p.DState, p.DState, 1f);
        for (int j = p.Segments - 2; j > segment; j--)
        {
            int at = first + j * p.DInner;
            float sum = p.SegmentSums[at];
            States local = lanes.Load(p.SegmentCarries, at * p.DState, p.DState, 1f);
            carry.Lo = RegisterScanKernel.Decay(carry.Lo, a.Lo, sum, local.Lo);
            carry.Hi = RegisterScanKernel.Decay(carry.Hi, a.Hi, sum, local.Hi);
        }
        return carry;
    }

    /// <summary>Pass 1 of a segmented backward, one tile: the adjoint alone walks the 8 steps backwards
    /// (<c>λ = gy C + carry</c>, <c>carry ← 2^(dt a) λ</c>) and the steps' dt add to the segment's sum.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void LocalTile(ref States carry, ref float stepSum, States a, Lane lane)
    {
        for (int j = 1; j >= 0; j--)
        {
            Float4 dt = lane.Get(StepSizes, j), gy = lane.Get(Grads, j);
            LocalReverse(ref carry, a, dt.W, gy.W, lane, 4 * j + 3);
            LocalReverse(ref carry, a, dt.Z, gy.Z, lane, 4 * j + 2);
            LocalReverse(ref carry, a, dt.Y, gy.Y, lane, 4 * j + 1);
            LocalReverse(ref carry, a, dt.X, gy.X, lane, 4 * j);
            stepSum += (dt.X + dt.Y) + (dt.Z + dt.W);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void LocalReverse(ref States carry, States a, float dt, float gy, Lane lane, int k)
    {
        carry.Lo = Adjoint(carry.Lo, a.Lo, lane.RowsLo[k * StepQuads + 4], dt, gy);
        carry.Hi = Adjoint(carry.Hi, a.Hi, lane.RowsHi[k * StepQuads + 4], dt, gy);
    }

    /// <summary><c>2^(dt a) (gy C + carry)</c> for a quad of states.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Float4 Adjoint(Float4 carry, Float4 a, Float4 c, float dt, float gy) => new(
        XMath.Exp2(dt * a.X) * (gy * c.X + carry.X),
        XMath.Exp2(dt * a.Y) * (gy * c.Y + carry.Y),
        XMath.Exp2(dt * a.Z) * (gy * c.Z + carry.Z),
        XMath.Exp2(dt * a.W) * (gy * c.W + carry.W));

    /// <summary>Where a lane's dB or dC sum goes in its warp's (step, 33) block of sums: its quantity
    /// (lane bit 1: 0 = dB, 1 = dC) times 16 plus its state (<see cref="TransposeReduce"/>).</summary>
    private static int SumColumn(int lane) => 16 * ((lane >> 1) & 1) + 8 * (lane & 1) + 4 * ((lane >> 4) & 1) + 2 * ((lane >> 3) & 1) + ((lane >> 2) & 1);

    /// <summary>One tile of one lane: the 8 steps' states from the checkpoint (and with z, y and dz), then the 8
    /// reverse steps, 4 at a time: each half's per-step inputs are loaded when it starts and its du, d(dt) stored
    /// when it ends, so that no more of them share the registers with the 9 states than needed.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Tile(ref States carry, ref ChannelSums sums, States h0, States a, Lane lane, bool z)
    {
        Float4 dt0 = lane.Get(StepSizes, 0), dt1 = lane.Get(StepSizes, 1), u0 = lane.Get(Inputs, 0), u1 = lane.Get(Inputs, 1);
        States h1 = Recompute(h0, a, dt0.X, u0.X, lane, 0);
        States h2 = Recompute(h1, a, dt0.Y, u0.Y, lane, 1);
        States h3 = Recompute(h2, a, dt0.Z, u0.Z, lane, 2);
        States h4 = Recompute(h3, a, dt0.W, u0.W, lane, 3);
        States h5 = Recompute(h4, a, dt1.X, u1.X, lane, 4);
        States h6 = Recompute(h5, a, dt1.Y, u1.Y, lane, 5);
        States h7 = Recompute(h6, a, dt1.Z, u1.Z, lane, 6);
        States h8 = Recompute(h7, a, dt1.W, u1.W, lane, 7);
        if (z)
        {
            Float4 factors0 = lane.Get(GateFactors, 0), factors1 = lane.Get(GateFactors, 1);
            Float4 dz0 = new(GateGrad(h1, u0.X, lane, 0, factors0.X), GateGrad(h2, u0.Y, lane, 1, factors0.Y),
                             GateGrad(h3, u0.Z, lane, 2, factors0.Z), GateGrad(h4, u0.W, lane, 3, factors0.W));
            Float4 dz1 = new(GateGrad(h5, u1.X, lane, 4, factors1.X), GateGrad(h6, u1.Y, lane, 5, factors1.Y),
                             GateGrad(h7, u1.Z, lane, 6, factors1.Z), GateGrad(h8, u1.W, lane, 7, factors1.W));
            if (lane.WritesRows)
            {
                lane.Set(GradGates, 0, dz0);
                lane.Set(GradGates, 1, dz1);
            }
        }

        StepInputs late = StepInputs.Load(lane, 1);
        var grads = new StepGrads();
        Reverse(ref carry, ref sums, ref grads, h8, h7, a, late, lane, 7);
        Reverse(ref carry, ref sums, ref grads, h7, h6, a, late, lane, 6);
        Reverse(ref carry, ref sums, ref grads, h6, h5, a, late, lane, 5);
        Reverse(ref carry, ref sums, ref grads, h5, h4, a, late, lane, 4);
        grads.Store(lane, 1);
        StepInputs early = StepInputs.Load(lane, 0);
        Reverse(ref carry, ref sums, ref grads, h4, h3, a, early, lane, 3);
        Reverse(ref carry, ref sums, ref grads, h3, h2, a, early, lane, 2);
        Reverse(ref carry, ref sums, ref grads, h2, h1, a, early, lane, 1);
        Reverse(ref carry, ref sums, ref grads, h1, h0, a, early, lane, 0);
        grads.Store(lane, 0);
    }

    /// <summary>State after step k from the state before it.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static States Recompute(States h, States a, float dt, float u, Lane lane, int k)
    {
        float dtu = dt * u;
        return new States
        {
            Lo = RegisterScanKernel.Advance(h.Lo, a.Lo, lane.RowsLo[k * StepQuads], dt, dtu),
            Hi = RegisterScanKernel.Advance(h.Hi, a.Hi, lane.RowsHi[k * StepQuads], dt, dtu),
        };
    }

    /// <summary><c>dz</c> at step k: the scan's output <c>y = Σ C h + D u</c> (both lanes) times the gate factor.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float GateGrad(States h, float u, Lane lane, int k, float factor)
    {
        float y = RegisterScanKernel.Readout(h.Lo, lane.RowsLo[k * StepQuads + 4]) + RegisterScanKernel.Readout(h.Hi, lane.RowsHi[k * StepQuads + 4]);
        return (y + Warp.ShuffleXor(y, 1) + lane.Skip * u) * factor;
    }

    /// <summary>
    /// Reverse step k: from <c>h = h_k</c> (before) and <c>next = h_{k+1}</c> (after) and the carried adjoint, the
    /// gradients of step k. Per state <c>λ = gy C + carry</c>, <c>dB = λ dt u</c>, <c>dC = gy h_{k+1}</c>,
    /// <c>carry ← e^(dt A) λ</c>, <c>w = carry h</c>, <c>dA += w dt</c>; over states (the lane's 8, then the partner's)
    /// <c>du = dt Σ λ B + D gy</c>, <c>d(dt) = (Σ A w + u Σ λ B) · slope</c>.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Reverse(ref States carry, ref ChannelSums sums, ref StepGrads grads, States next, States h,
                                States a, StepInputs s, Lane lane, int k)
    {
        int q = k & 3;
        float dt = s.Dt.Get(q), u = s.U.Get(q), gy = s.Gy.Get(q), dtu = dt * u;
        Float4 bLo = lane.RowsLo[k * StepQuads], cLo = lane.RowsLo[k * StepQuads + 4];
        Float4 bHi = lane.RowsHi[k * StepQuads], cHi = lane.RowsHi[k * StepQuads + 4];
        float inputSum = 0f, stepSum = 0f;
        Float4 gradBLo = ReverseQuad(ref carry.Lo, ref sums.A.Lo, ref inputSum, ref stepSum, next.Lo, h.Lo, a.Lo, bLo, cLo, dt, dtu, gy, out Float4 gradCLo);
        Float4 gradBHi = ReverseQuad(ref carry.Hi, ref sums.A.Hi, ref inputSum, ref stepSum, next.Hi, h.Hi, a.Hi, bHi, cHi, dt, dtu, gy, out Float4 gradCHi);
        inputSum += Warp.ShuffleXor(inputSum, 1);
        stepSum += Warp.ShuffleXor(stepSum, 1);
        float gradDt = (stepSum * Ln2 + u * inputSum) * s.Slope.Get(q);
        sums.D += gy * u;
        sums.Bias += gradDt;
        grads.U = grads.U.With(q, dt * inputSum + lane.Skip * gy);
        grads.Dt = grads.Dt.With(q, gradDt);
        lane.Sums[k * SumStride] = TransposeReduce(gradBLo, gradBHi, gradCLo, gradCHi, lane.Bits);
    }

    /// <summary>A quad of states of <see cref="Reverse"/>: returns dB, and dC as <paramref name="gradC"/>; adds
    /// <c>Σ λ B</c> to <paramref name="inputSum"/> and <c>Σ (A log2 e) w</c> to <paramref name="stepSum"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Float4 ReverseQuad(ref Float4 carry, ref Float4 gradA, ref float inputSum, ref float stepSum,
                                      Float4 next, Float4 h, Float4 a, Float4 b, Float4 c, float dt, float dtu, float gy,
                                      out Float4 gradC)
    {
        gradC = new Float4(gy * next.X, gy * next.Y, gy * next.Z, gy * next.W);
        float lx = gy * c.X + carry.X, ly = gy * c.Y + carry.Y, lz = gy * c.Z + carry.Z, lw = gy * c.W + carry.W;
        inputSum += lx * b.X + ly * b.Y + lz * b.Z + lw * b.W;
        carry = new Float4(XMath.Exp2(dt * a.X) * lx, XMath.Exp2(dt * a.Y) * ly, XMath.Exp2(dt * a.Z) * lz, XMath.Exp2(dt * a.W) * lw);
        float wx = carry.X * h.X, wy = carry.Y * h.Y, wz = carry.Z * h.Z, ww = carry.W * h.W;
        gradA = new Float4(gradA.X + wx * dt, gradA.Y + wy * dt, gradA.Z + wz * dt, gradA.W + ww * dt);
        stepSum += wx * a.X + wy * a.Y + wz * a.Z + ww * a.W;
        return new Float4(lx * dtu, ly * dtu, lz * dtu, lw * dtu);
    }

    /// <summary>
    /// Sums the 16 values of every lane (dB, dC of its 8 states) over the warp's 16 channels (lane bits 1-4), so that
    /// each lane ends with one of the 32 sums: quantity <c>q = bit 1</c> (0 dB, 1 dC) of state
    /// <c>8 bit0 + 4 bit4 + 2 bit3 + bit2</c> (<see cref="SumColumn"/>). Each round exchanges half of the values left
    /// with the lane across one bit: across bit 4 the quads are already crossed (<see cref="StateLanes"/>), so a lane
    /// adds the partner's Hi to its Lo (8 shuffles, no selects); across bits 3, 2, 1 a select picks what to keep and
    /// what to send (4 + 2 + 1 shuffles). 15 shuffles, 14 selects, 15 adds.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float TransposeReduce(Float4 gradBLo, Float4 gradBHi, Float4 gradCLo, Float4 gradCHi, int bits)
    {
        Float4 gb = Across16(gradBLo, gradBHi), gc = Across16(gradCLo, gradCHi);
        bool bit3 = (bits & 8) != 0, bit2 = (bits & 4) != 0, bit1 = (bits & 2) != 0;
        float b0 = Exchange(gb.X, gb.Z, bit3, 8), b1 = Exchange(gb.Y, gb.W, bit3, 8);
        float c0 = Exchange(gc.X, gc.Z, bit3, 8), c1 = Exchange(gc.Y, gc.W, bit3, 8);
        float gradB = Exchange(b0, b1, bit2, 4), gradC = Exchange(c0, c1, bit2, 4);
        return Exchange(gradB, gradC, bit1, 2);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Float4 Across16(Float4 lo, Float4 hi) => new(
        lo.X + Warp.ShuffleXor(hi.X, 16), lo.Y + Warp.ShuffleXor(hi.Y, 16),
        lo.Z + Warp.ShuffleXor(hi.Z, 16), lo.W + Warp.ShuffleXor(hi.W, 16));

    /// <summary>The lanes across <paramref name="mask"/> keep one of (first, second) each, the one whose bit is clear
    /// <paramref name="first"/>, and add the partner's copy of it.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float Exchange(float first, float second, bool bit, int mask) =>
        (bit ? second : first) + Warp.ShuffleXor(bit ? first : second, mask);

    private struct Tiles
    {
        public ArrayView<Float4> ChannelRows, Rows;        // the (channel, step) tiles one after the other; B, C rows
        public ArrayView<float> Sums, Biases;
    }

    /// <summary>A lane's row of the (channel, step) tiles (one base address: tile i is i · TileQuads on), its quads'
    /// columns of the (step, state) rows and its column of its warp's sums.</summary>
    private struct Lane
    {
        public StateLanes Lanes;
        public int Bits;
        public float Skip;
        public bool WritesRows;
        public ArrayView<Float4> Row, RowsLo, RowsHi;
        public ArrayView<float> Sums;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public readonly Float4 Get(int tile, int q) => Row[tile * TileQuads + q];

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public readonly void Set(int tile, int q, Float4 values) => Row[tile * TileQuads + q] = values;
    }

    /// <summary>A channel's inputs of 4 steps (quad <c>j</c> of the tile: steps 4j .. 4j + 3), in registers.</summary>
    private struct StepInputs
    {
        public Float4 Dt, U, Gy, Slope;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static StepInputs Load(Lane lane, int j) => new()
        {
            Dt = lane.Get(StepSizes, j), U = lane.Get(Inputs, j), Gy = lane.Get(Grads, j), Slope = lane.Get(Slopes, j),
        };
    }

    /// <summary>A channel's du and d(dt) of 4 steps, stored (by the even lane) once the 4 are done.</summary>
    private struct StepGrads
    {
        public Float4 U, Dt;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public readonly void Store(Lane lane, int j)
        {
            if (!lane.WritesRows) return;
            lane.Set(GradInputs, j, U);
            lane.Set(GradSteps, j, Dt);
        }
    }

    /// <summary>A lane's running sums over the sequence: dA of its states, dD and d delta_bias of its channel.</summary>
    private struct ChannelSums
    {
        public States A;
        public float D, Bias;
    }

    /// <summary>One thread's share of a tile's global reads: of each (channel, step) tile the entries (r + 16m, s),
    /// m = 0..3; of B and C, state n at step s'.</summary>
    private struct TileReads
    {
        public Float4 U, Delta, Z, Grad;
        public float B, C;
    }

    /// <summary>
    /// What one thread loads, stages and writes back: entries (r + 16m, s) of the (channel, step) tiles, state n at
    /// step s' of B and C, and the block's dB, dC sums of state r at step s. Channels past d_inner read 0 and steps
    /// past L re-read step L - 1; both are staged as zero steps with gy = 0, which change nothing and add nothing.
    /// </summary>
    private readonly struct Loader<TElements> where TElements : struct, IScanElements
    {
        private readonly RegisterScanGradientArguments p;
        private readonly int first, rowStep, entries, step, stateFirst, stateStep, sumRow;
        private readonly bool realState, sumsState;
        private readonly ArrayView<float> entry, biases, rows, sums;  // entry: (r, s) of the first (channel, step) tile

        public Loader(RegisterScanGradientArguments p, int b, int d0, int thread, Tiles tiles)
        {
            this.p = p;
            int row = thread / TileSteps;
            step = thread % TileSteps;
            first = (b * p.DInner + d0 + row) * p.Length;                     // (b, d0 + r, 0) in u, delta, z, g
            rowStep = 16 * p.Length;
            entries = (XMath.Min(Channels, p.DInner - d0) - row + 15) / 16;   // m < entries: a channel of d_inner
            entry = tiles.ChannelRows.Cast<float>().SubView(row * RowFloats + step);
            biases = tiles.Biases.SubView(row);
            int state = thread % 16;
            stateStep = thread / 16;
            realState = state < p.DState;
            stateFirst = (b * p.DState + state) * p.Length;
            rows = tiles.Rows.Cast<float>().SubView(stateStep * 4 * StepQuads + state);
            sums = tiles.Sums.SubView(step * SumStride + row);                 // dB of state r at step s; dC 16 on
            sumsState = row < p.DState;
            sumRow = (b * p.DState + row) * p.Length;
        }

        public TileReads Read(int t0)
        {
            int at = first + XMath.Min(t0 + step, p.Length - 1);
            int stateAt = stateFirst + XMath.Min(t0 + stateStep, p.Length - 1);
            return new TileReads
            {
                U = Column(p.U, p.U16, at),
                Delta = Column(p.Delta, p.Delta16, at),
                Z = p.Has(ScanOptions.Z) ? Column(p.Z, p.Z16, at) : default,
                Grad = Column(p.GradOutput, p.GradOutput16, at),
                B = realState ? default(TElements).Load(p.B, p.B16, stateAt) : 0f,
                C = realState ? default(TElements).Load(p.C, p.C16, stateAt) : 0f,
            };
        }

        /// <summary>This thread's entry (r + 16m, s) of a (channel, step) tile.</summary>
        private ref float Entry(int tile, int m) => ref entry[tile * 4 * TileQuads + 16 * m * RowFloats];

        private Float4 Column(ArrayView<float> source, ArrayView<ushort> bf16, int at) =>
            new(Entry(source, bf16, at, 0), Entry(source, bf16, at, 1), Entry(source, bf16, at, 2), Entry(source, bf16, at, 3));

        private float Entry(ArrayView<float> source, ArrayView<ushort> bf16, int at, int m) =>
            m < entries ? default(TElements).Load(source, bf16, at + m * rowStep) : 0f;

        public void Stage(TileReads r, int t0)
        {
            bool inRange = t0 + step < p.Length;
            StageEntry(r.U.X, r.Delta.X, r.Z.X, r.Grad.X, 0, inRange);
            StageEntry(r.U.Y, r.Delta.Y, r.Z.Y, r.Grad.Y, 1, inRange);
            StageEntry(r.U.Z, r.Delta.Z, r.Z.Z, r.Grad.Z, 2, inRange);
            StageEntry(r.U.W, r.Delta.W, r.Z.W, r.Grad.W, 3, inRange);
            bool stateInRange = realState && t0 + stateStep < p.Length;
            rows[0] = stateInRange ? r.B : 0f;
            rows[16] = stateInRange ? r.C : 0f;
        }

        private void StageEntry(float u, float delta, float z, float g, int m, bool inRange)
        {
            bool real = inRange && m < entries;
            float dt = delta + biases[16 * m], slope = 1f;
            if (p.Has(ScanOptions.DeltaSoftplus) && dt <= 20f)
            {
                float e = XMath.Exp(dt);
                dt = XMath.Log(1f + e);
                slope = e * XMath.Exp(-dt);                                    // σ(x) = e^x / (1 + e^x), no division
            }
            float gy = g, factor = 0f;
            if (p.Has(ScanOptions.Z))
            {
                float sigmoid = 1f / (1f + XMath.Exp(-z));
                gy = g * z * sigmoid;
                factor = g * sigmoid * (1f + z * (1f - sigmoid));
            }
            Entry(StepSizes, m) = real ? dt : 0f;
            Entry(Inputs, m) = real ? u : 0f;
            Entry(Grads, m) = real ? gy : 0f;
            Entry(GateFactors, m) = real ? factor : 0f;
            Entry(Slopes, m) = real ? slope : 0f;
        }

        /// <summary>Writes this thread's entries of du, d(dt), dz and adds the block's dB, dC sums into the totals.</summary>
        public void Write(int t0)
        {
            if (t0 + step >= p.Length) return;
            int at = first + t0 + step;
            WriteEntry(at, 0);
            WriteEntry(at, 1);
            WriteEntry(at, 2);
            WriteEntry(at, 3);
            if (sumsState)
            {
                Atomic.Add(ref p.GradB[sumRow + t0 + step], BlockSum(0));
                Atomic.Add(ref p.GradC[sumRow + t0 + step], BlockSum(16));
            }
        }

        private float BlockSum(int column)
        {
            float sum = 0f;
            for (int warp = 0; warp < Warps; warp++) sum += sums[warp * TileSteps * SumStride + column];
            return sum;
        }

        private void WriteEntry(int at, int m)
        {
            if (m >= entries) return;
            default(TElements).Store(p.GradU, p.GradU16, at + m * rowStep, Entry(GradInputs, m));
            default(TElements).Store(p.GradDelta, p.GradDelta16, at + m * rowStep, Entry(GradSteps, m));
            if (p.Has(ScanOptions.Z)) default(TElements).Store(p.GradZ, p.GradZ16, at + m * rowStep, Entry(GradGates, m));
        }
    }
}
