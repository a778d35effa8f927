using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Text.RegularExpressions;

namespace Bmojo.Dsl.Generator.Tests;

/// <summary>One real <c>dotnet build</c> of a throw-away project that references the generator and the language as
/// analyzers, the way a user's project does: proves the generator loads (with its Language dependency) in the
/// SDK's compiler and that spec errors fail the build with MSBuild-formatted, clickable locations. Slow (one build).</summary>
public sealed class MsBuildEndToEndTests
{
    [Fact]
    [Trait("Category", "Slow")]
    public void A_broken_spec_fails_dotnet_build_with_its_file_line_and_column()
    {
        string directory = Directory.CreateTempSubdirectory("bmojo-e2e-").FullName;
        try
        {
            File.WriteAllText(Path.Combine(directory, "bad.arch"), BrokenSpec.Text);
            File.WriteAllText(Path.Combine(directory, "Consumer.csproj"), Project(RepositoryRoot()));

            (int exitCode, string output) = DotnetBuild(directory);

            Assert.NotEqual(0, exitCode);
            Assert.Matches(new Regex(Regex.Escape($"bad.arch({BrokenSpec.Line},{BrokenSpec.Column}): error {BrokenSpec.Id}")), output);
            Assert.DoesNotContain("CS8784", output);  // the generator failed to load
            Assert.DoesNotContain("CS8785", output);  // the generator threw
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    private static string Project(string repositoryRoot) => $"""
        <Project Sdk="Microsoft.NET.Sdk">
          <PropertyGroup>
            <TargetFramework>net10.0</TargetFramework>
            <Nullable>enable</Nullable>
          </PropertyGroup>
          <ItemGroup>
            <AdditionalFiles Include="bad.arch" />
            <ProjectReference Include="{repositoryRoot}/generators/Bmojo.Dsl.Generator/Bmojo.Dsl.Generator.csproj" OutputItemType="Analyzer" ReferenceOutputAssembly="false" />
            <ProjectReference Include="{repositoryRoot}/generators/Bmojo.Dsl.Language/Bmojo.Dsl.Language.csproj" OutputItemType="Analyzer" ReferenceOutputAssembly="false" />
          </ItemGroup>
        </Project>
        """;

    private static (int ExitCode, string Output) DotnetBuild(string directory)
    {
        var start = new ProcessStartInfo("dotnet", "build --nologo --disable-build-servers -v:q")
        {
            WorkingDirectory = directory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        // The test host's MSBuild variables would point the child build at the test's own MSBuild instance.
        foreach (string name in start.Environment.Keys.Where(k => k.StartsWith("MSBuild", StringComparison.OrdinalIgnoreCase)).ToList())
            start.Environment.Remove(name);
        start.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        using Process build = Process.Start(start)!;
        Task<string> stdout = build.StandardOutput.ReadToEndAsync();
        Task<string> stderr = build.StandardError.ReadToEndAsync();
        if (!build.WaitForExit(TimeSpan.FromMinutes(5)))
        {
            build.Kill(entireProcessTree: true);
            Assert.Fail("dotnet build did not finish in 5 minutes");
        }
        return (build.ExitCode, stdout.Result + stderr.Result);
    }

    private static string RepositoryRoot([CallerFilePath] string thisFile = "") =>
        Path.GetFullPath(Path.Combine(Path.GetDirectoryName(thisFile)!, "..", ".."));
}
