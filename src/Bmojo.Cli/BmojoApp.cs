using System.Text.RegularExpressions;
using Bmojo.Cli.Commands;
using Spectre.Console;
using Spectre.Console.Cli;

namespace Bmojo.Cli;

/// <summary>The <c>bmojo</c> command line, runnable in-process (tests pass their own console and error writer).</summary>
public static class BmojoApp
{
    /// <summary>A run stopped by Ctrl-C or SIGTERM (saved after a whole step, to be continued with --resume): 128 + SIGINT.</summary>
    public const int CancelledExitCode = 130;

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
            config.ConfigureConsole(output);
            config.CancellationExitCode(CancelledExitCode);
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

    private static int Report(Exception exception, string[] args, TextWriter errors)
    {
        switch (exception)
        {
            case UserError user:
                errors.WriteLine(user.Message);
                return user.ExitCode;
            case Bmojo.Distributed.DistributedError distributed:
                errors.WriteLine(distributed.Message);
                return 1;
            case CommandAppException cli when ConversionFailure(cli, args) is string message:
                errors.WriteLine($"error: {message}");
                return 2;
            case CommandAppException cli:
                errors.WriteLine($"error: {cli.Message}");
                return 2;
            case OperationCanceledException:
                errors.WriteLine("cancelled");
                return 130;
            default:
                errors.WriteLine($"internal error: {exception.GetType().Name}: {exception.Message} (a bug in bmojo, please report it)");
                return 70;
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
