using Bmojo.Cli.Models;
using Bmojo.Dsl.Language;
using Spectre.Console.Cli;

namespace Bmojo.Cli.Commands;

/// <summary><c>bmojo generate-code SPEC</c>: the C# the source generator makes, as plain text (pipe it to a file).</summary>
public sealed class GenerateCodeCommand(Streams streams) : Command<GenerateCodeSettings>
{
    public override int Execute(CommandContext context, GenerateCodeSettings settings, CancellationToken cancellation)
    {
        IReadOnlyList<GeneratedSource> sources = SpecLoader.GenerateCode(settings.Spec, streams.Error);
        for (int i = 0; i < sources.Count; i++)
        {
            if (i > 0) streams.Out.WriteLine();
            streams.Out.Write(sources[i].Text);
        }
        return 0;
    }
}
