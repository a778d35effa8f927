using Bmojo.Cli.Training;
using Spectre.Console;

namespace Bmojo.Cli.Commands;

/// <summary>How evaluation results are shown.</summary>
internal static class Results
{
    public static string Summary(IReadOnlyList<EvalResult> results) =>
        string.Join("  ", results.Select(r => $"kv {r.Config.KvPairs} @ L {r.Config.SeqLen}: {Format.Percent(r.Accuracy)}")) +
        $"  (mean {Format.Percent(results.Average(r => r.Accuracy))})";

    public static void WriteAccuracy(IAnsiConsole output, string title, IReadOnlyList<EvalResult> results)
    {
        var table = new Table().Title(title).AddColumns("seq len", "kv pairs")
            .AddColumn(new TableColumn("accuracy").RightAligned())
            .AddColumn(new TableColumn("loss").RightAligned());
        foreach (EvalResult r in results)
            table.AddRow(r.Config.SeqLen.ToString(), r.Config.KvPairs.ToString(), Format.Percent(r.Accuracy), Format.Number(r.Loss));
        output.Write(table);
    }
}
