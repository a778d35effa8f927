using System.Text.RegularExpressions;

namespace Bmojo.Dsl.Package.Tests;

/// <summary>
/// The package as the README tells a user to take it: the code blocks of its section "Use it in your project" run
/// as they are, in a temporary folder (outside this repository's Directory.Build.* files) — the first shell block in
/// the repository, the second where the projects live — with two substitutions only: the feed folder for
/// <c>~/bmojo-feed</c> and a unique version for <c>0.1.0</c> (so the machine's package cache can never serve an
/// older build). The spec and Program.cs blocks go to the files the README names; <c>dotnet run</c> must print what
/// the README says. Then: a typo in the spec fails the build at its file:line:col, and without the standard library
/// (<c>BmojoStandardLibrary=false</c>) <c>extends MambaTiny</c> is BMJ0400.
/// </summary>
public sealed class ConsumerProjectTests : IDisposable
{
    private const string Section = "## Use it in your project";

    private readonly string _root = Path.Combine(Path.GetTempPath(), "bmojo-consumer-" + Guid.NewGuid().ToString("N"));

    public void Dispose()
    {
        try { Directory.Delete(_root, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }

    [Fact]
    public void The_readme_steps_pack_the_package_and_build_and_run_a_project_whose_spec_extends_a_canonical_one()
    {
        string repo = Repository.Root();
        List<Block> blocks = ReadmeBlocks(File.ReadAllText(Path.Combine(repo, "README.md")));
        Block[] shell = blocks.Where(b => b.Language == "sh").ToArray();
        Block spec = blocks.Single(b => b.Language == "");
        Block program = blocks.Single(b => b.Language == "csharp");
        Assert.Equal(2, shell.Length);
        Assert.Contains("extends", spec.Text);
        Assert.NotNull(spec.File);
        Assert.NotNull(program.File);

        string feed = Path.Combine(_root, "feed");
        Directory.CreateDirectory(_root);
        string version = $"0.1.0-test.{DateTime.UtcNow:yyyyMMddHHmmss}.{Environment.ProcessId}";
        string Substitute(string script) => script
            .Replace("~/bmojo-feed", $"'{feed}'")
            .Replace("--version 0.1.0", $"--version {version}")
            .Replace("-c Release -o", $"-c Release -p:Version={version} -o");

        var pack = DotnetCli.Bash(repo, Substitute(shell[0].Text));
        Assert.True(pack.ExitCode == 0, $"the README's pack step failed: {pack}");
        Assert.True(File.Exists(Path.Combine(feed, $"Bmojo.Dsl.{version}.nupkg")), $"no package in {feed}: {pack}");

        var setup = DotnetCli.Bash(_root, Substitute(shell[1].Text));
        Assert.True(setup.ExitCode == 0, $"the README's project steps failed: {setup}");
        Match app = Regex.Match(shell[1].Text, @"^cd (\S+)", RegexOptions.Multiline);
        Assert.True(app.Success, "the README's steps enter no project folder");
        string appDir = Path.Combine(_root, app.Groups[1].Value);
        Assert.True(File.Exists(Path.Combine(appDir, "nuget.config")), "the feed is not in the project's own nuget.config");

        string specPath = Path.Combine(_root, spec.File!);
        File.WriteAllText(specPath, spec.Text);
        File.WriteAllText(Path.Combine(_root, program.File!), program.Text);

        var run = DotnetCli.Run(appDir, "run");
        Assert.True(run.ExitCode == 0, $"the README's app failed: {run}");
        Match printed = Regex.Match(run.Output, @"MyMamba: logits 2x8x64, (\d+) parameters");
        Assert.True(printed.Success, $"unexpected output: {run}");
        Assert.True(long.Parse(printed.Groups[1].Value) > 0);

        // Without the standard library the canonical parent is unknown.
        var alone = DotnetCli.Run(appDir, "build", "-p:BmojoStandardLibrary=false");
        Assert.NotEqual(0, alone.ExitCode);
        Assert.Matches(@"my-mamba\.arch\(1,\d+\): error BMJ0400: .*MambaTiny", alone.Output);

        // A typo in a key: the build must fail with the located BMJ error, as the IDE would show it.
        string broken = spec.Text.Replace("layers = 2", "layers = 2\n  mixr = attention { heads = 2 }");
        File.WriteAllText(specPath, broken);
        var build = DotnetCli.Run(appDir, "build");
        Assert.NotEqual(0, build.ExitCode);
        int line = broken.Split('\n').Select((text, i) => (text, i)).First(l => l.text.Contains("mixr")).i + 1;
        Assert.Matches($@"my-mamba\.arch\({line},3\): error BMJ\d{{4}}: .*mixr", build.Output);
    }

    /// <summary>A fenced block of the README's section: its language, its text, and the file it is for when the
    /// prose before it ends by naming one (<c>`YourApp/Program.cs`:</c>).</summary>
    internal sealed record Block(string Language, string Text, string? File);

    internal static List<Block> ReadmeBlocks(string readme)
    {
        int start = readme.IndexOf(Section, StringComparison.Ordinal);
        Assert.True(start >= 0, $"README.md has no section '{Section}'");
        int end = readme.IndexOf("\n## ", start + Section.Length, StringComparison.Ordinal);
        string section = readme[start..(end < 0 ? readme.Length : end)];
        var blocks = new List<Block>();
        int previousEnd = 0;
        foreach (Match match in Regex.Matches(section, @"^```(?<lang>\w*)\n(?<text>.*?)^```$", RegexOptions.Multiline | RegexOptions.Singleline))
        {
            string prose = section[previousEnd..match.Index].TrimEnd();
            Match file = Regex.Match(prose, @"`(?<file>[\w./-]+\.\w+)`:$");
            blocks.Add(new Block(match.Groups["lang"].Value, match.Groups["text"].Value, file.Success ? file.Groups["file"].Value : null));
            previousEnd = match.Index + match.Length;
        }
        return blocks;
    }

    [Fact]
    public void The_readme_section_names_the_files_of_its_spec_and_program()
    {
        List<Block> blocks = ReadmeBlocks(File.ReadAllText(Path.Combine(Repository.Root(), "README.md")));
        Assert.Equal("YourApp/my-mamba.arch", blocks.Single(b => b.Language == "").File);
        Assert.Equal("YourApp/Program.cs", blocks.Single(b => b.Language == "csharp").File);
        Assert.Contains("using YourApp;", blocks.Single(b => b.Language == "csharp").Text);
        Assert.Contains("--configfile nuget.config", blocks[1].Text);
    }
}
