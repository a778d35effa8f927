using System.Globalization;
using System.Text;
using Bmojo.Cli.Commands;
using Bmojo.Cli.Models;
using Bmojo.Cli.Training;
using Spectre.Console;
using TorchSharp;
using static TorchSharp.torch;

namespace Bmojo.Cli.Lm;

/// <summary>
/// <c>bmojo eval SPEC --checkpoint F --task lm --eval-lengths 1,2,4,8</c>: held-out perplexity at those multiples of
/// the training length, through the full forward and the recurrent chunked prefill; a table, <c>OUT/eval.csv</c>
/// (one row per length, path and position bucket) and <c>OUT/length-curve.png</c> (perplexity vs position).
/// </summary>
public static class LmEvalCommand
{
    public static int Run(IAnsiConsole output, Streams streams, LmEvalOptions settings, string spec, string checkpoint)
    {
        ModelDefinition definition = SpecLoader.LoadOne(spec, streams.Error);
        (int seqLen, string tokenizerName, double heldOut) = RunFacts(settings, checkpoint);
        TextTokenizer tokenizer = TextTokenizer.Named(tokenizerName);
        if (tokenizer.CheckVocab(definition.Settings) is string vocab) throw new UserError(vocab);
        using LmModel model = Load(definition, checkpoint, settings.Device, settings.Dtype);
        using TokenFile tokens = LmTrainCommand.OpenTokens(output, settings.Data, tokenizer);
        var split = new TokenSplit(tokens, heldOut);
        IReadOnlyList<int> multiples = LmSettingsRules.ParseMultiples(settings.EvalLengths)!;
        int bucket = Math.Max(1, seqLen / 2);
        IReadOnlyList<LengthPerplexity> results = LmEvaluation.Run(model, split, seqLen, multiples, settings.EvalTokens, settings.LmBatch, bucket,
                                                                   recurrent: !settings.NoRecurrent, progress: line => output.MarkupLine(Markup.Escape(line)));

        var table = new Table().Title(Markup.Escape($"{definition.Name}: held-out perplexity, trained at L {seqLen}"));
        table.AddColumns("length", "x L", "sequences", "tokens", "full forward", settings.NoRecurrent ? "" : "recurrent (chunks of L)");
        foreach (int multiple in multiples)
        {
            LengthPerplexity full = results.First(r => r.Multiple == multiple && r.Path == "full");
            LengthPerplexity? recurrent = results.FirstOrDefault(r => r.Multiple == multiple && r.Path == "recurrent");
            table.AddRow(Format.Count(full.Length), $"{multiple}x", Format.Count(full.Sequences), Format.Count(full.Tokens),
                         Format.Number(full.Perplexity, "F2"), recurrent is null ? "" : Format.Number(recurrent.Perplexity, "F2"));
        }
        output.Write(table);

        string outDir = settings.Out ?? Path.GetDirectoryName(Path.GetFullPath(checkpoint))!;
        Directory.CreateDirectory(outDir);
        var csv = new StringBuilder("model,length,multiple,path,sequences,tokens,perplexity,bucket_first,bucket_last,bucket_tokens,bucket_perplexity\n");
        foreach (LengthPerplexity r in results)
            foreach ((long first, long last, long count, double ppl) in r.Buckets)
                csv.AppendLine(string.Join(",", definition.Name, r.Length, r.Multiple, r.Path, r.Sequences, r.Tokens,
                    r.Perplexity.ToString("F4", CultureInfo.InvariantCulture), first, last, count, ppl.ToString("F4", CultureInfo.InvariantCulture)));
        File.WriteAllText(Path.Combine(outDir, "eval.csv"), csv.ToString());
        LmPlots.SaveEvaluation(Path.Combine(outDir, "length-curve.png"), definition.Name, seqLen, results);
        output.MarkupLine(Markup.Escape($"wrote {Path.Combine(outDir, "eval.csv")} and {Path.Combine(outDir, "length-curve.png")}"));
        return 0;
    }

    /// <summary>The model of <paramref name="definition"/> with the weights of <paramref name="checkpoint"/> (an LM or
    /// MQAR checkpoint, or an imported weights file), on the device asked for.</summary>
    public static LmModel Load(ModelDefinition definition, string checkpoint, string? device, string? dtype)
    {
        var model = new LmModel(definition, definition.Create());
        try
        {
            ModelWeights.Load(checkpoint, definition, model.Module);
            Placement.Resolve(device, dtype).Apply(model.Module);
            return model;
        }
        catch
        {
            model.Dispose();
            throw;
        }
    }

    /// <summary>Training length, tokenizer and held-out fraction: the LM checkpoint's, else the options'.</summary>
    private static (int SeqLen, string Tokenizer, double HeldOut) RunFacts(LmEvalOptions settings, string checkpoint)
    {
        if (LmTrainer.IsCheckpoint(checkpoint))
        {
            LmOptions options = LmTrainer.ReadOptions(checkpoint);
            return (settings.SeqLen ?? options.SeqLen, settings.Tokenizer ?? options.Tokenizer, settings.HeldOut ?? options.HeldOut);
        }
        if (settings.SeqLen is not int seqLen)
            throw new UserError($"'{checkpoint}' is not an LM training checkpoint, so it does not record the training length: give --seq-len");
        return (seqLen, settings.Tokenizer ?? TextTokenizer.Gpt2Name, settings.HeldOut ?? LmOptions.Default.HeldOut);
    }
}
