using System.Reflection;
using System.Text.RegularExpressions;
using Bmojo.Cli.Commands;
using Spectre.Console;
using Spectre.Console.Cli;

namespace Bmojo.Cli;

/// <summary>The <c>bmojo</c> command line, runnable in-process (tests pass their own console and error writer).</summary>
public static class BmojoApp
{
    /// <param name="output">Tables, progress and results.</param>
    /// <param name="streams">Plain text: generated code, and diagnostics and errors (one per line, no markup).</param>
    public static int Run(string[] args, IAnsiConsole output, Streams streams, CancellationToken cancellation = default)
    {
        TextWriter errors = streams.Error;
        var registrar = new TypeRegistrar();
        registrar.RegisterInstance(typeof(IAnsiConsole), output);
        registrar.RegisterInstance(typeof(Streams), streams);
        var app = new CommandApp(registrar);
        app.Configure(config =>
        {
            config.SetApplicationName("bmojo");
            config.SetApplicationVersion(Version);
            config.SetHelpProvider(new BmojoHelpProvider(config.Settings, SettingsTypes));
            config.ConfigureConsole(output);
            config.CancellationExitCode(ExitCodes.Interrupted);
            config.UseStrictParsing();
            config.SetExceptionHandler((exception, _) => Report(exception, args, errors));
            config.AddCommand<InspectCommand>("inspect")
                .WithDescription("Show a spec's resolved layer plan, parameter count and memory budget per sequence.")
                .WithExample("inspect", "BMojoTiny");
            config.AddCommand<TrainCommand>("train")
                .WithDescription("Train a model on a task, with checkpoints and exact resume.")
                .WithExample("train", "BMojoTiny", "--task", "mqar", "--steps", "600", "--checkpoint", "bmojo.safetensors");
            config.AddCommand<EvalCommand>("eval")
                .WithDescription("Evaluate a checkpoint on a task.")
                .WithExample("eval", "BMojoTiny", "--checkpoint", "bmojo.safetensors", "--task", "mqar");
            config.AddCommand<CompareCommand>("compare")
                .WithDescription("Train several architectures on the same data and budget and compare them.")
                .WithExample("compare", "TransformerTiny", "MambaTiny", "JambaTiny", "BMojoFTiny", "BMojoTiny", "--task", "mqar");
            config.AddCommand<PlotCommand>("plot")
                .WithDescription("Draw the plots of finished runs again from their files (compare: results.json; train/eval --task lm: training.csv, eval.csv), or several LM runs side by side.")
                .WithExample("plot", "compare-results");
            config.AddCommand<Lm.GenerateCommand>("generate")
                .WithDescription("Generate text from a language-model checkpoint (prefill, then token by token through the cache).")
                .WithExample("generate", "TransformerSmall", "--checkpoint", "lm-runs/TransformerSmall/checkpoint.safetensors", "--prompt", "It was");
            config.AddCommand<Hf.ExportCommand>("export")
                .WithDescription("Write a checkpoint as a HuggingFace folder (config.json + model.safetensors) for transformers.")
                .WithExample("export", "MambaSmall", "--checkpoint", "lm-runs/MambaSmall/checkpoint.safetensors", "--format", "hf", "--out", "mamba-small-hf");
            config.AddCommand<Hf.ImportCommand>("import")
                .WithDescription("Read a HuggingFace folder (MambaForCausalLM, LlamaForCausalLM) into weights of a matching spec.")
                .WithExample("import", "mamba-small-hf", "--spec", "MambaSmall", "--out", "mamba-small.safetensors");
            config.AddCommand<GenerateCodeCommand>("generate-code")
                .WithDescription("Print the C# the source generator makes for a spec.")
                .WithExample("generate-code", "specs/bmojo-tiny.arch");
            config.AddCommand<DistCheckCommand>("dist-check")
                .WithDescription("Check NCCL and the data-parallel gradients on this machine's GPUs (for developers).")
                .IsHidden();
            config.AddBranch("bench", bench =>
            {
                bench.SetDescription("Benchmarks.");
                bench.AddCommand<BenchKernelsCommand>("kernels")
                    .WithDescription("Time the fused ILGPU kernels against the reference paths and, on CUDA, the device's ceilings.")
                    .WithExample("bench", "kernels", "--quick");
                bench.AddCommand<BenchTrainStepCommand>("train-step")
                    .WithDescription("Time a whole training step of BMojo, Transformer and Mamba (L 2048 on CUDA, a process per model; the tiny specs with --quick).")
                    .WithExample("bench", "train-step", "--quick");
                bench.AddCommand<BenchCpuScanCommand>("cpu-scan")
                    .WithDescription("Time the chunked and the plain C# selective scan on CPU tensors.")
                    .WithExample("bench", "cpu-scan", "--runs", "5");
                bench.AddCommand<BenchPtxCommand>("ptx")
                    .WithDescription("Compile the fused kernels to PTX for sm_90 (no GPU needed) and summarise each.")
                    .WithExample("bench", "ptx", "/tmp/ptx");
            });
        });
        return app.Run(args, cancellation);
    }

    /// <summary>The informational version of the assembly (the package version, with the commit when built from git).</summary>
    public static string Version { get; } =
        typeof(BmojoApp).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion
        ?? typeof(BmojoApp).Assembly.GetName().Version?.ToString() ?? "unknown";

    /// <summary>Each command's settings type by its path ("train", "bench train-step"), for the help's DEFAULT column.</summary>
    internal static IReadOnlyDictionary<string, Type> SettingsTypes { get; } = new Dictionary<string, Type>
    {
        ["inspect"] = typeof(InspectCommand), ["plot"] = typeof(PlotCommand), ["train"] = typeof(TrainCommand), ["eval"] = typeof(EvalCommand),
        ["compare"] = typeof(CompareCommand), ["generate"] = typeof(Lm.GenerateCommand), ["export"] = typeof(Hf.ExportCommand),
        ["import"] = typeof(Hf.ImportCommand), ["generate-code"] = typeof(GenerateCodeCommand), ["dist-check"] = typeof(DistCheckCommand),
        ["bench kernels"] = typeof(BenchKernelsCommand), ["bench train-step"] = typeof(BenchTrainStepCommand),
        ["bench cpu-scan"] = typeof(BenchCpuScanCommand), ["bench ptx"] = typeof(BenchPtxCommand),
    }.ToDictionary(entry => entry.Key, entry => BmojoHelpProvider.SettingsTypeOf(entry.Value)!);

    private static int Report(Exception exception, string[] args, TextWriter errors)
    {
        switch (exception)
        {
            case UserError user:
                errors.WriteLine(user.Message);
                return user.ExitCode;
            case Bmojo.Distributed.DistributedError distributed:
                errors.WriteLine(distributed.Message);
                return ExitCodes.InputError;
            case CommandAppException cli when ConversionFailure(cli, args) is string message:
                errors.WriteLine($"error: {message}");
                return ExitCodes.Usage;
            case CommandAppException cli:
                errors.WriteLine($"error: {cli.Message}");
                return ExitCodes.Usage;
            case OperationCanceledException:
                errors.WriteLine("cancelled");
                return ExitCodes.Interrupted;
            default:
                errors.WriteLine($"internal error: {exception.GetType().Name}: {exception.Message} (a bug in bmojo, please report it)");
                return ExitCodes.Internal;
        }
    }

    /// <summary>Spectre reports a value it cannot convert without naming the option; find the option in the arguments.</summary>
    private static string? ConversionFailure(CommandAppException exception, string[] args)
    {
        Match match = Regex.Match(exception.Message, "^Failed to convert '(?<value>.*)' to ");
        if (!match.Success) return null;
        string value = match.Groups["value"].Value;
        for (int i = 0; i < args.Length; i++)
        {
            if (i > 0 && args[i] == value && args[i - 1].StartsWith('-')) return $"{args[i - 1]} expects a number, got '{value}'";
            if (args[i].StartsWith('-') && args[i].EndsWith("=" + value, StringComparison.Ordinal))
                return $"{args[i][..args[i].IndexOf('=')]} expects a number, got '{value}'";
        }
        return $"'{value}' is not a number";
    }
}
