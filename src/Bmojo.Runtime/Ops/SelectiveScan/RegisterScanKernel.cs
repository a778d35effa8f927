using System.Runtime.CompilerServices;
using Bmojo.Runtime.Mixers;
using ILGPU;
using ILGPU.Algorithms;
using ILGPU.Runtime;

namespace Bmojo.Runtime.Ops.SelectiveScan;

/// <summary>
/// The forward selective scan for d_state &lt;= 16 with the state in registers (mamba's <c>selective_scan_fwd</c>
/// semantics; arguments as <see cref="SelectiveScanKernel"/>, whose <c>Lanes</c> it ignores). A block of
/// <see cref="Threads"/> threads serves <see cref="Channels"/> consecutive channels of one batch row; a channel is two
/// adjacent lanes holding 8 states each (<see cref="StateLanes"/>), A pre-scaled by log2(e) so a step costs one
/// <c>ex2.approx</c> per state. Time runs in tiles of <see cref="TileSteps"/> steps. Per tile the block stages
/// <c>dt</c> (softplus taken once per element by the thread that loads it), <c>u, z</c> as (channel, step) tiles and
/// <c>B, C</c> as (step, state) rows in shared memory, with coalesced global reads issued one tile ahead into
/// registers; each lane then runs the tile's steps straight through with its states in registers, reading its B, C
/// quads as broadcast 16-byte loads and <c>dt, u</c> four steps at a time; <c>y = Σ_n C h + D u</c> takes one
/// shuffle with the partner lane, and goes out through a shared tile as coalesced writes, gated by <c>silu(z)</c>.
/// With <see cref="ScanOptions.Checkpoints"/> it writes the state before every <see cref="ChunkSteps"/> steps,
/// (B, d_inner, chunks, N), for <see cref="RegisterScanBackwardKernel"/>. A block may serve one segment of L
/// (<see cref="FusedSelectiveScan.SegmentSteps(Bmojo.Runtime.Gpu.KernelHost, long, long, long, int, int)"/>): with
/// <see cref="ScanOptions.SegmentLocal"/> it keeps only its segment's end state from zero and its sum of dt; with
/// <see cref="ScanOptions.Segmented"/> it starts from the combination of the segments before it.
/// </summary>
internal static class RegisterScanKernel
{
    public const int MaxDState = 16;
    public const int Channels = 64;
    public const int Threads = 2 * Channels;
    public const int TileSteps = 32;
    public const int ChunkSteps = 8;                     // the backward kernel's tile

    private const int RowQuads = TileSteps / 4 + 1;      // a (channel, step) row: 36 floats, 16-byte aligned, 4 banks apart
    private const int TileQuads = Channels * RowQuads;
    private const int StepQuads = 8;                     // a (step, state) row: B[b, 0..15, t] then C[b, 0..15, t]
    private const float Log2E = 1.442695041f;

    // The (channel, step) tiles, in shared-memory order.
    private const int StepSizes = 0, Inputs = 1, Gates = 2, Outputs = 3;
    private const int ChannelTiles = 4;

    /// <summary>Float4s of dynamic shared memory: four (channel, step) tiles (dt, u, z, y), the B, C rows and the
    /// block's delta biases.</summary>
    public const int SharedQuads = ChannelTiles * TileQuads + TileSteps * StepQuads + Channels / 4;

    public static int BlocksPerBatch(int dInner) => (dInner + Channels - 1) / Channels;

    public static int Chunks(int length) => (length + ChunkSteps - 1) / ChunkSteps;

    public static void Forward<TElements>(SelectiveScanArguments p)
        where TElements : struct, IScanElements
    {
        ArrayView<Float4> shared = SharedMemory.GetDynamic<Float4>();
        var tiles = new Tiles
        {
            ChannelRows = shared.SubView(0, ChannelTiles * TileQuads),
            Rows = shared.SubView(ChannelTiles * TileQuads, TileSteps * StepQuads),
            Biases = shared.SubView(ChannelTiles * TileQuads + TileSteps * StepQuads, Channels / 4).Cast<float>(),
        };
        int blocksPerBatch = BlocksPerBatch(p.DInner);
        int row = Grid.IdxX / blocksPerBatch;                  // (b, segment)
        int b = row / p.Segments, segment = row - b * p.Segments;
        int d0 = (Grid.IdxX - row * blocksPerBatch) * Channels;
        bool local = p.Has(ScanOptions.SegmentLocal);
        if (local && segment == p.Segments - 1) return;        // the last segment's local state is never read
        int tStart = segment * p.SegmentSteps, tEnd = XMath.Min(tStart + p.SegmentSteps, p.Length);
        var loader = new Loader<TElements>(p, b, d0, Group.IdxX, tiles);

        // This thread as one of its channel's two lanes.
        int channel = Group.IdxX >> 1;
        bool active = d0 + channel < p.DInner;                 // padding channels repeat the last one, write nothing
        int d = XMath.Min(d0 + channel, p.DInner - 1);
        int c = b * p.DInner + d;
        StateLanes lanes = StateLanes.Of(Group.IdxX & 31);
        States a = lanes.Load(p.A, d * p.DState, p.DState, Log2E);
        States h = segment == 0 && p.Has(ScanOptions.InitialState) ? lanes.Load(p.InitialState, c * p.DState, p.DState, 1f) : default;
        if (p.Has(ScanOptions.Segmented) && segment > 0) h = SegmentStart(p, lanes, a, b, segment, d);
        float skip = p.Has(ScanOptions.D) ? p.D[d] : 0f;
        var lane = new Lane
        {
            Arguments = p,
            Lanes = lanes,
            Active = active,
            WritesY = (Group.IdxX & 1) == 0,                  // the even lane stores the channel's y
            Checkpoints = c * Chunks(p.Length) * p.DState,     // (b, d, :, :) in Checkpoints
            Row = tiles.ChannelRows.SubView(channel * RowQuads),
            RowsLo = tiles.Rows.SubView(lanes.Lo / 4),
            RowsHi = tiles.Rows.SubView(lanes.Hi / 4),
        };

        if (Group.IdxX < Channels)
            tiles.Biases[Group.IdxX] = p.Has(ScanOptions.DeltaBias) ? p.DeltaBias[XMath.Min(d0 + Group.IdxX, p.DInner - 1)] : 0f;
        TileReads next = loader.Read(tStart);
        Group.Barrier();
        loader.Stage(next, tStart);
        if (tStart + TileSteps < tEnd) next = loader.Read(tStart + TileSteps);
        Group.Barrier();
        float stepSum = 0f;
        for (int t0 = tStart; t0 < tEnd; t0 += TileSteps)
        {
            if (local)
            {
                for (int q = 0; q < TileSteps / 4; q++) LocalQuad(ref h, ref stepSum, a, lane, q);
            }
            else
            {
                Chunk(ref h, a, skip, lane, t0, 0);
                Chunk(ref h, a, skip, lane, t0, 8);
                Chunk(ref h, a, skip, lane, t0, 16);
                Chunk(ref h, a, skip, lane, t0, 24);
            }
            Group.Barrier();                                   // the tile's y is complete; its inputs are all read

            if (!local) loader.Write(t0);
            if (t0 + TileSteps < tEnd)
            {
                TileReads current = next;
                if (t0 + 2 * TileSteps < tEnd) next = loader.Read(t0 + 2 * TileSteps);
                loader.Stage(current, t0 + TileSteps);
            }
            Group.Barrier();
        }

        if (!active) return;
        int segmentRow = (b * p.Segments + segment) * p.DInner + d;
        if (local)
        {
            lanes.Store(p.SegmentStates, segmentRow * p.DState, p.DState, h);
            if (lane.WritesY) p.SegmentSums[segmentRow] = stepSum;
        }
        else if (segment == p.Segments - 1) lanes.Store(p.FinalState, c * p.DState, p.DState, h);
    }

    /// <summary>The state before segment <paramref name="segment"/> (&gt; 0) from pass 1's local end states <c>h_j</c>
    /// (segment 0's from the initial state) and step sums <c>E_j</c>: <c>h = h_0</c>, then <c>h = 2^(a E_j) h + h_j</c>
    /// for j = 1 .. segment - 1 (the decay over a segment is the product of its steps' decays, <c>2^(a Σ dt)</c>).</summary>
    private static States SegmentStart(SelectiveScanArguments p, StateLanes lanes, States a, int b, int segment, int d)
    {
        int first = b * p.Segments * p.DInner + d;             // (b, 0, d) in SegmentSums
        States h = lanes.Load(p.SegmentStates, first * p.DState, p.DState, 1f);
        for (int j = 1; j < segment; j++)
        {
            int at = first + j * p.DInner;
            float sum = p.SegmentSums[at];
            States local = lanes.Load(p.SegmentStates, at * p.DState, p.DState, 1f);
            h.Lo = Decay(h.Lo, a.Lo, sum, local.Lo);
            h.Hi = Decay(h.Hi, a.Hi, sum, local.Hi);
        }
        return h;
    }

    /// <summary><c>2^(a sum) h + add</c> for a quad of states: a segment's decay of a carried state (or adjoint).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Float4 Decay(Float4 h, Float4 a, float sum, Float4 add) => new(
        XMath.Exp2(sum * a.X) * h.X + add.X,
        XMath.Exp2(sum * a.Y) * h.Y + add.Y,
        XMath.Exp2(sum * a.Z) * h.Z + add.Z,
        XMath.Exp2(sum * a.W) * h.W + add.W);

    /// <summary>Pass 1 of a segmented scan, steps <c>4q .. 4q + 3</c> of the tile: the states advance (no output) and
    /// the steps' dt add to the segment's sum.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void LocalQuad(ref States h, ref float stepSum, States a, Lane lane, int q)
    {
        Float4 dt = lane.Row[StepSizes * TileQuads + q], u = lane.Row[Inputs * TileQuads + q];
        LocalStep(ref h, a, dt.X, u.X, lane, 4 * q);
        LocalStep(ref h, a, dt.Y, u.Y, lane, 4 * q + 1);
        LocalStep(ref h, a, dt.Z, u.Z, lane, 4 * q + 2);
        LocalStep(ref h, a, dt.W, u.W, lane, 4 * q + 3);
        stepSum += (dt.X + dt.Y) + (dt.Z + dt.W);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void LocalStep(ref States h, States a, float dt, float u, Lane lane, int k)
    {
        float dtu = dt * u;
        h.Lo = Advance(h.Lo, a.Lo, lane.RowsLo[k * StepQuads], dt, dtu);
        h.Hi = Advance(h.Hi, a.Hi, lane.RowsHi[k * StepQuads], dt, dtu);
    }

    /// <summary>Steps <c>k0 .. k0 + 7</c> of the tile at <c>t0</c> (<c>k0</c> a constant: every shared-memory address
    /// is the lane's base plus a constant), after writing the checkpoint before them.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Chunk(ref States h, States a, float skip, Lane lane, int t0, int k0)
    {
        SelectiveScanArguments p = lane.Arguments;
        if (lane.Active && p.Has(ScanOptions.Checkpoints) && t0 + k0 < p.Length)
            lane.Lanes.Store(p.Checkpoints, lane.Checkpoints + (t0 + k0) / ChunkSteps * p.DState, p.DState, h);
        Quad(ref h, a, skip, lane, k0 / 4);
        Quad(ref h, a, skip, lane, k0 / 4 + 1);
    }

    /// <summary>Steps <c>4q .. 4q + 3</c>: their dt and u in one 16-byte load each, their y in one store.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Quad(ref States h, States a, float skip, Lane lane, int q)
    {
        Float4 dt = lane.Row[StepSizes * TileQuads + q], u = lane.Row[Inputs * TileQuads + q];
        Float4 y = new(Step(ref h, a, dt.X, u.X, skip, lane, 4 * q),
                       Step(ref h, a, dt.Y, u.Y, skip, lane, 4 * q + 1),
                       Step(ref h, a, dt.Z, u.Z, skip, lane, 4 * q + 2),
                       Step(ref h, a, dt.W, u.W, skip, lane, 4 * q + 3));
        if (lane.WritesY) lane.Row[Outputs * TileQuads + q] = y;
    }

    /// <summary>One step of one lane: its 8 states advance, and the channel's <c>y</c> (both lanes' sums) comes back.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float Step(ref States h, States a, float dt, float u, float skip, Lane lane, int k)
    {
        float dtu = dt * u;
        Float4 bLo = lane.RowsLo[k * StepQuads], cLo = lane.RowsLo[k * StepQuads + 4];
        Float4 bHi = lane.RowsHi[k * StepQuads], cHi = lane.RowsHi[k * StepQuads + 4];
        h.Lo = Advance(h.Lo, a.Lo, bLo, dt, dtu);
        h.Hi = Advance(h.Hi, a.Hi, bHi, dt, dtu);
        float y = Readout(h.Lo, cLo) + Readout(h.Hi, cHi);
        return y + Warp.ShuffleXor(y, 1) + skip * u;
    }

    /// <summary><c>h = 2^(dt a) h + dt u B</c> for a quad of states (a = A log2 e).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Float4 Advance(Float4 h, Float4 a, Float4 b, float dt, float dtu) => new(
        XMath.Exp2(dt * a.X) * h.X + dtu * b.X,
        XMath.Exp2(dt * a.Y) * h.Y + dtu * b.Y,
        XMath.Exp2(dt * a.Z) * h.Z + dtu * b.Z,
        XMath.Exp2(dt * a.W) * h.W + dtu * b.W);

    /// <summary><c>Σ C h</c> over a quad of states.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static float Readout(Float4 h, Float4 c) => c.X * h.X + c.Y * h.Y + c.Z * h.Z + c.W * h.W;

    /// <summary><c>softplus(x)</c> as mamba takes it (x itself past 20).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static float Softplus(float x) => x <= 20f ? XMath.Log(1f + XMath.Exp(x)) : x;

    private struct Tiles
    {
        public ArrayView<Float4> ChannelRows, Rows;        // the (channel, step) tiles one after the other; B, C rows
        public ArrayView<float> Biases;
    }

    /// <summary>A lane's row of the (channel, step) tiles (one base address: tile i is i · TileQuads on) and its quads'
    /// columns of the (step, state) rows.</summary>
    private struct Lane
    {
        public SelectiveScanArguments Arguments;
        public StateLanes Lanes;
        public bool Active, WritesY;
        public int Checkpoints;
        public ArrayView<Float4> Row, RowsLo, RowsHi;
    }

    /// <summary>One thread's share of a tile's global reads: of each (channel, step) tile the entries (r + 4m, s),
    /// m = 0..15 (<c>X0</c> holds m = 0..3, <c>X1</c> m = 4..7, ...); of B and C, state n at steps s' + 8e, e = 0..3.</summary>
    private struct TileReads
    {
        public Float4 U0, U1, U2, U3, Delta0, Delta1, Delta2, Delta3, Z0, Z1, Z2, Z3, B, C;
    }

    /// <summary>
    /// What one thread loads, stages and writes back. Its entries of the (channel, step) tiles are rows r + 4m at step s
    /// (a warp reads or writes whole rows of 32 consecutive floats); channels past d_inner read 0 and steps past L
    /// re-read step L - 1, and both are staged as zero steps (dt = 0, u = 0: the state does not change). Shared
    /// addresses are the thread's base plus constants.
    /// </summary>
    private readonly struct Loader<TElements> where TElements : struct, IScanElements
    {
        private readonly SelectiveScanArguments p;
        private readonly int first, rowStep, entries, step, stateFirst, stateStep;
        private readonly bool realState;
        private readonly ArrayView<float> entry, biases, rows;   // entry: (r, s) of the first (channel, step) tile

        public Loader(SelectiveScanArguments p, int b, int d0, int thread, Tiles tiles)
        {
            this.p = p;
            int row = thread / TileSteps;
            step = thread % TileSteps;
            first = (b * p.DInner + d0 + row) * p.Length;                     // (b, d0 + r, 0) in u, delta, z, y
            rowStep = 4 * p.Length;
            entries = (XMath.Min(Channels, p.DInner - d0) - row + 3) / 4;     // m < entries: a channel of d_inner
            entry = tiles.ChannelRows.Cast<float>().SubView(row * 4 * RowQuads + step);
            biases = tiles.Biases.SubView(row);
            int state = thread % 16;
            stateStep = thread / 16;
            realState = state < p.DState;
            stateFirst = (b * p.DState + state) * p.Length;
            rows = tiles.Rows.Cast<float>().SubView(stateStep * 4 * StepQuads + state);
        }

        public TileReads Read(int t0)
        {
            int at = first + XMath.Min(t0 + step, p.Length - 1);
            bool z = p.Has(ScanOptions.Z);
            return new TileReads
            {
                U0 = Column(p.U, p.U16, at, 0), U1 = Column(p.U, p.U16, at, 1),
                U2 = Column(p.U, p.U16, at, 2), U3 = Column(p.U, p.U16, at, 3),
                Delta0 = Column(p.Delta, p.Delta16, at, 0), Delta1 = Column(p.Delta, p.Delta16, at, 1),
                Delta2 = Column(p.Delta, p.Delta16, at, 2), Delta3 = Column(p.Delta, p.Delta16, at, 3),
                Z0 = z ? Column(p.Z, p.Z16, at, 0) : default, Z1 = z ? Column(p.Z, p.Z16, at, 1) : default,
                Z2 = z ? Column(p.Z, p.Z16, at, 2) : default, Z3 = z ? Column(p.Z, p.Z16, at, 3) : default,
                B = StateColumn(p.B, p.B16, t0),
                C = StateColumn(p.C, p.C16, t0),
            };
        }

        /// <summary>This thread's entry (r + 4m, s) of a (channel, step) tile.</summary>
        private ref float Entry(int tile, int m) => ref entry[tile * 4 * TileQuads + m * 4 * 4 * RowQuads];

        private Float4 Column(ArrayView<float> source, ArrayView<ushort> bf16, int at, int j) =>
            new(Entry(source, bf16, at, 4 * j), Entry(source, bf16, at, 4 * j + 1),
                Entry(source, bf16, at, 4 * j + 2), Entry(source, bf16, at, 4 * j + 3));

        private float Entry(ArrayView<float> source, ArrayView<ushort> bf16, int at, int m) =>
            m < entries ? default(TElements).Load(source, bf16, at + m * rowStep) : 0f;

        private Float4 StateColumn(ArrayView<float> source, ArrayView<ushort> bf16, int t0) =>
            new(StateEntry(source, bf16, t0, 0), StateEntry(source, bf16, t0, 1),
                StateEntry(source, bf16, t0, 2), StateEntry(source, bf16, t0, 3));

        private float StateEntry(ArrayView<float> source, ArrayView<ushort> bf16, int t0, int e) =>
            realState ? default(TElements).Load(source, bf16, stateFirst + XMath.Min(t0 + stateStep + 8 * e, p.Length - 1)) : 0f;

        public void Stage(TileReads r, int t0)
        {
            bool inRange = t0 + step < p.Length;
            StageColumn(r.U0, r.Delta0, r.Z0, 0, inRange);
            StageColumn(r.U1, r.Delta1, r.Z1, 1, inRange);
            StageColumn(r.U2, r.Delta2, r.Z2, 2, inRange);
            StageColumn(r.U3, r.Delta3, r.Z3, 3, inRange);
            StageStates(r.B, 0, t0);
            StageStates(r.C, 16, t0);
        }

        private void StageColumn(Float4 u, Float4 delta, Float4 z, int j, bool inRange)
        {
            StageEntry(u.X, delta.X, z.X, 4 * j, inRange);
            StageEntry(u.Y, delta.Y, z.Y, 4 * j + 1, inRange);
            StageEntry(u.Z, delta.Z, z.Z, 4 * j + 2, inRange);
            StageEntry(u.W, delta.W, z.W, 4 * j + 3, inRange);
        }

        private void StageEntry(float u, float delta, float z, int m, bool inRange)
        {
            float dt = delta + biases[4 * m];
            if (p.Has(ScanOptions.DeltaSoftplus)) dt = Softplus(dt);
            Entry(StepSizes, m) = inRange ? dt : 0f;
            Entry(Inputs, m) = inRange ? u : 0f;
            Entry(Gates, m) = z;
        }

        private void StageStates(Float4 values, int offset, int t0)
        {
            StageState(values.X, offset, t0, 0);
            StageState(values.Y, offset, t0, 1);
            StageState(values.Z, offset, t0, 2);
            StageState(values.W, offset, t0, 3);
        }

        private void StageState(float value, int offset, int t0, int e) =>
            rows[8 * e * 4 * StepQuads + offset] = realState && t0 + stateStep + 8 * e < p.Length ? value : 0f;

        /// <summary>Writes this thread's entries of the tile's <c>y · silu(z)</c> (or <c>y</c>).</summary>
        public void Write(int t0)
        {
            if (t0 + step >= p.Length) return;
            int at = first + t0 + step;
            WriteColumn(at, 0);
            WriteColumn(at, 1);
            WriteColumn(at, 2);
            WriteColumn(at, 3);
        }

        private void WriteColumn(int at, int j)
        {
            WriteEntry(at, 4 * j);
            WriteEntry(at, 4 * j + 1);
            WriteEntry(at, 4 * j + 2);
            WriteEntry(at, 4 * j + 3);
        }

        private void WriteEntry(int at, int m)
        {
            if (m >= entries) return;
            float y = Entry(Outputs, m);
            if (p.Has(ScanOptions.Z))
            {
                float z = Entry(Gates, m);
                y *= z / (1f + XMath.Exp(-z));
            }
            default(TElements).Store(p.Output, p.Output16, at + m * rowStep, y);
        }
    }
}
