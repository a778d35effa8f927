using System.Globalization;

namespace Bmojo.Bench;

/// <summary>The text of a <c>bench train-step</c> run: its header, the summary table (a row per model, failed ones
/// included), the target's ratio, and each model's breakdown with a side-by-side view of where the steps differ.</summary>
public static class TrainingStepReport
{
    public static string Header(TrainingStepOptions o, string device, string processes) =>
        $"bench train-step on {device}: B={o.Batch} L={o.Length}, {o.DtypeName} parameters and activations (the scan computes "
        + $"in fp32, the B'MOJO attention on the path in the kernel paths column, with fp32 softmax and accumulation), AdamW lr {TrainingOptimizer.LearningRate} weight decay {TrainingOptimizer.WeightDecay} "
        + $"on matrices; {o.Warmup} warm-up steps, then the median of {o.Steps}; a step = forward on random tokens, cross-entropy "
        + $"(fp32 logits) against the next tokens (+ the model's aux loss, if any), backward, AdamW step, zero_grad; {processes}; "
        + $"time limit {o.TimeLimitSeconds:F0} s";

    /// <param name="sharedProcess">The models ran one after another in one process on CUDA: the memory of each
    /// includes what earlier models left in torch's caching allocator.</param>
    public static void Write(IReadOnlyList<TrainingStepResult> results, TrainingStepOptions options, TextWriter output, bool sharedProcess)
    {
        TrainingStepResult? reference = Reference(results);
        output.WriteLine();
        output.WriteLine($"summary (B={options.Batch} L={options.Length} {options.DtypeName}; {options.TokensPerStep:N0} tokens a step)");
        var rows = results.Select(r => new[]
        {
            r.Model,
            r.Parameters.ToString("N0", CultureInfo.InvariantCulture),
            r.StepSeconds is Timing t ? Ms(t.Median) : "FAILED",
            r.StepSeconds is Timing s ? $"{Ms(s.Min)}-{Ms(s.Max)}, n={s.Runs}" : "",
            r.TokensPerSecond is double rate ? rate.ToString("N0", CultureInfo.InvariantCulture) : "",
            reference?.StepSeconds is Timing rt && r.StepSeconds is Timing mt ? $"{mt.Median / rt.Median:F2}" : "",
            r.MemoryBytes is long bytes ? $"{bytes / (double)(1L << 30):F1} GiB" : "n/a",
            r.Paths ?? "",
        }).ToList();
        TextTable.Write(output, ["model", "parameters", "step ms", "min-max ms", "tokens/s",
                                 reference is null ? "ratio" : $"/ {reference.Model}", "device memory", "kernel paths"],
                        rows, rightAligned: [false, true, true, true, true, true, true, false]);
        foreach (TrainingStepResult failed in results.Where(r => r.Error is not null))
            output.WriteLine($"  {failed.Model} failed: {failed.Error}");
        output.WriteLine(MemoryNote(results, sharedProcess));
        foreach (string line in TargetLines(results, reference, options)) output.WriteLine(line);

        foreach (TrainingStepResult result in results) WriteBreakdown(result, options, output);
        WriteComparison(results, output);
    }

    /// <summary>The model the others are compared with: the Transformer of the run (the first whose name starts so).</summary>
    public static TrainingStepResult? Reference(IReadOnlyList<TrainingStepResult> results) =>
        results.FirstOrDefault(r => r.Model == "Transformer" && r.StepSeconds is not null)
        ?? results.FirstOrDefault(r => r.Model.StartsWith("Transformer", StringComparison.Ordinal) && r.StepSeconds is not null);

    private static string MemoryNote(IReadOnlyList<TrainingStepResult> results, bool sharedProcess) =>
        results.All(r => r.MemoryBytes is null)
            ? "device memory: n/a (measured on CUDA only)"
            : "device memory: the driver's count (total - free) after the timed steps, above the process's baseline (contexts); "
              + "torch's caching allocator keeps what it reserved, so this is at least the step's peak. TorchSharp 0.107 exposes "
              + "no allocator statistics (max_memory_allocated)."
              + (sharedProcess ? " All models shared one process: a later model's number includes earlier models' reserve." : "");

    private static IEnumerable<string> TargetLines(IReadOnlyList<TrainingStepResult> results, TrainingStepResult? reference,
                                                   TrainingStepOptions options)
    {
        if (reference?.StepSeconds is not Timing r) yield break;
        foreach (TrainingStepResult bmojo in results.Where(x => x.Model.StartsWith("BMojo", StringComparison.Ordinal)))
        {
            bool issueSetting = bmojo.Model == "BMojo" && reference.Model == "Transformer" && options.Length == 2048;
            string setting = issueSetting ? "" : " (not the issue's setting: that is BMojo vs Transformer at L 2048 on the H200)";
            yield return bmojo.StepSeconds is Timing b
                ? $"target: {bmojo.Model} / {reference.Model} step time = {b.Median / r.Median:F2}; the issue asks <= 1.00 "
                  + $"(the paper reports up to 10% faster): {(b.Median <= r.Median ? "met" : "NOT met")}{setting}"
                : $"target: {bmojo.Model} / {reference.Model}: no ratio, {bmojo.Model} failed{setting}";
        }
    }

    private static void WriteBreakdown(TrainingStepResult result, TrainingStepOptions o, TextWriter output)
    {
        if (result.BreakdownNote is string note) output.WriteLine($"\nbreakdown of {result.Model}: {note}");
        if (result.Breakdown.Count == 0) return;
        double? step = result.StepSeconds?.Median;
        output.WriteLine();
        output.WriteLine($"breakdown of {result.Model} (estimates: each part built alone and timed forward + backward at "
                         + $"B={o.Batch} L={o.Length} {o.DtypeName}; the optimizer step alone)");
        var rows = new List<string[]>();
        foreach (BreakdownRow row in result.Breakdown)
        {
            string total = row.TotalSeconds is double s ? (row.InSum ? Ms(s) : $"({Ms(s)})") : "";
            rows.Add([row.Part, row.Seconds is double one ? Ms(one) : "-", row.Count.ToString(CultureInfo.InvariantCulture), total,
                      row.InSum && row.TotalSeconds is double t && step is double st ? $"{t / st:P0}" : "", row.Note ?? ""]);
        }
        double sum = result.Breakdown.Where(r => r.InSum).Sum(r => r.TotalSeconds ?? 0);
        bool missing = result.Breakdown.Any(r => r.InSum && r.TotalSeconds is null);
        rows.Add(["sum of the parts", "", "", Ms(sum), step is double st1 ? $"{sum / st1:P0}" : "",
                  missing ? "some parts have no time" : ""]);
        if (step is double st2)
        {
            rows.Add(["measured step (median)", "", "", Ms(st2), "100 %", ""]);
            rows.Add(["remainder: norms, residual adds, glue (step - sum)", "", "", Ms(st2 - sum), $"{(st2 - sum) / st2:P0}",
                      st2 < sum ? "negative: the parts cost more alone than in the model" : ""]);
        }
        TextTable.Write(output, ["part", "ms each", "count", "ms per step", "of step", "note"], rows,
                        rightAligned: [false, true, true, true, true, false]);
    }

    // Where the models' steps go, side by side, from their breakdowns.
    private static void WriteComparison(IReadOnlyList<TrainingStepResult> results, TextWriter output)
    {
        var compared = results.Where(r => r.Breakdown.Count > 0).ToList();
        if (compared.Count < 2) return;
        output.WriteLine();
        output.WriteLine("where the steps go, ms per step (estimates from the breakdowns; remainder = measured step - the parts)");
        string Kind(TrainingStepResult r, BreakdownKind kind)
        {
            var parts = r.Breakdown.Where(x => x.InSum && x.Kind == kind).ToList();
            if (parts.Count == 0) return "-";
            return parts.Any(x => x.TotalSeconds is null) ? "?" : Ms(parts.Sum(x => x.TotalSeconds!.Value));
        }
        string Remainder(TrainingStepResult r) => r.StepSeconds is Timing t && r.Breakdown.All(x => !x.InSum || x.TotalSeconds is not null)
            ? Ms(t.Median - r.Breakdown.Where(x => x.InSum).Sum(x => x.TotalSeconds!.Value)) : "?";
        List<string[]> rows =
        [
            ["mixers", .. compared.Select(r => Kind(r, BreakdownKind.Mixer))],
            ["feed-forward", .. compared.Select(r => Kind(r, BreakdownKind.FeedForward))],
            ["embedding, head, loss", .. compared.Select(r => Kind(r, BreakdownKind.Head))],
            ["AdamW step", .. compared.Select(r => Kind(r, BreakdownKind.Optimizer))],
            ["remainder", .. compared.Select(Remainder)],
            ["measured step", .. compared.Select(r => r.StepSeconds is Timing t ? Ms(t.Median) : "FAILED")],
        ];
        TextTable.Write(output, ["", .. compared.Select(r => r.Model)], rows,
                        rightAligned: [false, .. compared.Select(_ => true)]);
    }

    private static string Ms(double seconds) => (seconds * 1e3).ToString("F1", CultureInfo.InvariantCulture);
}

/// <summary>A plain-text table with padded columns.</summary>
internal static class TextTable
{
    public static void Write(TextWriter output, IReadOnlyList<string> headers, IReadOnlyList<string[]> rows, IReadOnlyList<bool> rightAligned)
    {
        int[] widths = headers.Select((h, i) => rows.Select(r => r[i].Length).Append(h.Length).Max()).ToArray();
        string Line(IReadOnlyList<string> cells) => string.Join("  ", cells.Select((c, i) =>
            i == cells.Count - 1 && !rightAligned[i] ? c : rightAligned[i] ? c.PadLeft(widths[i]) : c.PadRight(widths[i]))).TrimEnd();
        output.WriteLine(Line(headers));
        output.WriteLine(Line(widths.Select(w => new string('-', w)).ToArray()));
        foreach (string[] row in rows) output.WriteLine(Line(row));
    }
}
