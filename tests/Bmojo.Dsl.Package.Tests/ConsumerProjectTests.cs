using System.Text.RegularExpressions;

namespace Bmojo.Dsl.Package.Tests;

/// <summary>
/// The package as a user takes it: pack Bmojo.Dsl into a local folder feed, create a console project in a temp
/// folder (outside this repository's Directory.Build.* files) that references the package by version and holds one
/// spec, build and run it; then break the spec and check the build fails at the right file:line:col.
/// </summary>
public sealed class ConsumerProjectTests : IDisposable
{
    private const string Spec = """
        # A two-layer hybrid: a Mamba layer, then a B'MOJO layer.
        model TinyHybrid {
          vocab = 32
          d_model = 16
          layers = 2
          mixer = mamba { d_state = 4 }
          mixer at [1] = bmojo { heads = 2, window = 4, fading_tokens = 4, eidetic_capacity = 2 }
          mlp = mlp { hidden = 32 }
        }
        """;

    private const string Program = """
        using TinyApp;
        using TorchSharp;

        using var model = new TinyHybrid();
        var tokens = torch.randint(0, 32, new long[] { 2, 7 }, dtype: torch.int64);
        using var logits = model.forward(tokens);
        Console.WriteLine($"logits {string.Join('x', logits.shape)} parameters {TinyHybrid.ParameterCount}");
        """;

    private readonly string _root = Path.Combine(Path.GetTempPath(), "bmojo-consumer-" + Guid.NewGuid().ToString("N"));

    public void Dispose()
    {
        try { Directory.Delete(_root, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }

    [Fact]
    public void A_fresh_project_referencing_the_package_generates_builds_runs_and_reports_spec_errors()
    {
        string repo = RepositoryRoot();
        string feed = Path.Combine(_root, "feed");
        string app = Path.Combine(_root, "TinyApp");
        Directory.CreateDirectory(app);
        // A unique version, so the machine's package cache can never serve an older build of this package.
        string version = $"0.1.0-test.{DateTime.UtcNow:yyyyMMddHHmmss}.{Environment.ProcessId}";

        var pack = DotnetCli.Run(repo, "pack", "src/Bmojo.Dsl/Bmojo.Dsl.csproj", "-c", "Release", "-o", feed,
            $"-p:Version={version}");
        Assert.True(pack.ExitCode == 0, $"dotnet pack failed: {pack}");
        Assert.True(File.Exists(Path.Combine(feed, $"Bmojo.Dsl.{version}.nupkg")), $"no package in {feed}: {pack}");

        File.WriteAllText(Path.Combine(_root, "nuget.config"), $"""
            <?xml version="1.0" encoding="utf-8"?>
            <configuration>
              <packageSources>
                <add key="local" value="{feed}" />
              </packageSources>
            </configuration>
            """);
        File.WriteAllText(Path.Combine(app, "TinyApp.csproj"), $"""
            <Project Sdk="Microsoft.NET.Sdk">
              <PropertyGroup>
                <OutputType>Exe</OutputType>
                <TargetFramework>net10.0</TargetFramework>
                <ImplicitUsings>enable</ImplicitUsings>
                <Nullable>enable</Nullable>
                <TreatWarningsAsErrors>true</TreatWarningsAsErrors>
              </PropertyGroup>
              <ItemGroup>
                <PackageReference Include="Bmojo.Dsl" Version="{version}" />
                <PackageReference Include="TorchSharp-cpu" Version="0.107.0" />
              </ItemGroup>
            </Project>
            """);
        File.WriteAllText(Path.Combine(app, "Program.cs"), Program);
        string specPath = Path.Combine(app, "tiny.arch");
        File.WriteAllText(specPath, Spec);

        var run = DotnetCli.Run(app, "run");
        Assert.True(run.ExitCode == 0, $"the consumer app failed: {run}");
        Match printed = Regex.Match(run.Output, @"logits 2x7x32 parameters (\d+)");
        Assert.True(printed.Success, $"unexpected output: {run}");
        Assert.True(long.Parse(printed.Groups[1].Value) > 0);

        // A typo in a key: the build must fail with the located BMJ error, as the IDE would show it.
        File.WriteAllText(specPath, Spec.Replace("eidetic_capacity", "eidetic_capacty"));
        var build = DotnetCli.Run(app, "build");
        Assert.NotEqual(0, build.ExitCode);
        int line = Spec.Split('\n').Select((text, i) => (text, i)).First(l => l.text.Contains("eidetic_capacity")).i + 1;
        int column = Spec.Split('\n')[line - 1].IndexOf("eidetic_capacity", StringComparison.Ordinal) + 1;
        Assert.Matches($@"tiny\.arch\({line},{column}\): error BMJ\d{{4}}: .*eidetic_capacty.*eidetic_capacity", build.Output);
    }

    private static string RepositoryRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "Bmojo.Dsl.sln"))) return dir.FullName;
        throw new InvalidOperationException("Bmojo.Dsl.sln not found above " + AppContext.BaseDirectory);
    }
}
