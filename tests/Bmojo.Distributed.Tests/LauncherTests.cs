using System.Diagnostics;

namespace Bmojo.Distributed.Tests;

public class LauncherTests
{
    [Fact]
    public void Each_rank_gets_torchruns_variables_the_launchs_rendezvous_and_multicast_off()
    {
        var ranks = Launcher.Plan(2, "/opt/app/bmojo", ["train", "BMojoTiny", "--gpus", "2"], "/tmp/rdv", "run42");
        Assert.Equal(2, ranks.Count);
        for (int r = 0; r < 2; r++)
        {
            var env = ranks[r].Environment;
            Assert.Equal(r, ranks[r].Rank);
            Assert.Equal("/opt/app/bmojo", ranks[r].FileName);
            Assert.Equal(["train", "BMojoTiny", "--gpus", "2"], ranks[r].Arguments);
            Assert.Equal($"{r}", env["RANK"]);
            Assert.Equal("2", env["WORLD_SIZE"]);
            Assert.Equal($"{r}", env["LOCAL_RANK"]);
            Assert.Equal("2", env["LOCAL_WORLD_SIZE"]);
            Assert.Equal("/tmp/rdv/nccl-id", env["BMOJO_RENDEZVOUS_FILE"]);
            Assert.Equal("run42", env["BMOJO_RUN_ID"]);
            Assert.Equal("0", env["NCCL_NVLS_ENABLE"]);
            Assert.Equal("1", env["TORCH_SYMM_MEM_DISABLE_MULTICAST"]);
            Assert.Equal("1", env["NVSHMEM_DISABLE_NVLS"]);
        }
    }

    [Fact]
    public void A_value_the_user_set_is_kept_and_an_empty_one_gets_the_default()
    {
        var environment = new Dictionary<string, string?> { ["NCCL_NVLS_ENABLE"] = "0", ["NVSHMEM_DISABLE_NVLS"] = "", ["OTHER"] = "x" };
        SafeEnvironment.ApplyTo(environment);
        Assert.Equal("0", environment["NCCL_NVLS_ENABLE"]);
        Assert.Equal("1", environment["NVSHMEM_DISABLE_NVLS"]);
        Assert.Equal("1", environment["TORCH_SYMM_MEM_DISABLE_MULTICAST"]);
        Assert.Equal("x", environment["OTHER"]);
    }

    [Fact]
    public void The_defaults_reach_the_C_librarys_environment_that_NCCL_reads()
    {
        SafeEnvironment.ApplyToThisProcess();
        foreach ((string name, string value) in SafeEnvironment.Defaults)
        {
            string? given = Environment.GetEnvironmentVariable(name);
            Assert.False(string.IsNullOrEmpty(given));
            Assert.Equal(given, SafeEnvironment.NativeValue(name));
            if (name == "NCCL_NVLS_ENABLE") Assert.Equal("0", given);   // whoever set it here, multicast is off
        }
    }

    [Fact]
    public void It_starts_itself_again_through_dotnet_or_its_apphost()
    {
        var viaDotnet = Launcher.SelfFrom("/usr/bin/dotnet", "/app/bmojo.dll");
        Assert.Equal("/usr/bin/dotnet", viaDotnet.FileName);
        Assert.Equal(["/app/bmojo.dll"], viaDotnet.Prefix);
        var apphost = Launcher.SelfFrom("/app/bmojo", "/app/bmojo.dll");
        Assert.Equal("/app/bmojo", apphost.FileName);
        Assert.Empty(apphost.Prefix);
        Assert.Throws<DistributedError>(() => Launcher.SelfFrom("/usr/bin/dotnet", null));
    }

    [Fact]
    public void Without_drops_an_option_and_its_value_in_both_spellings()
    {
        Assert.Equal(["train", "X", "--steps", "5"], Launcher.Without(["train", "X", "--gpus", "2", "--steps", "5"], "--gpus"));
        Assert.Equal(["train", "X"], Launcher.Without(["train", "--gpus=4", "X"], "--gpus"));
    }

    [Fact]
    public void Run_starts_every_rank_with_its_environment()
    {
        if (OperatingSystem.IsWindows()) return;
        string directory = Launcher.NewRendezvousDirectory();
        try
        {
            string script = $"echo \"$RANK $WORLD_SIZE $LOCAL_RANK $NCCL_NVLS_ENABLE $1\" > {directory}/rank-$RANK";
            var ranks = Launcher.Plan(3, "/bin/sh", ["-c", script, "sh", "arg"], directory, "r");
            Assert.Equal(0, Launcher.Run(ranks, TextWriter.Null));
            for (int r = 0; r < 3; r++)
                Assert.Equal($"{r} 3 {r} 0 arg", File.ReadAllText(Path.Combine(directory, $"rank-{r}")).Trim());
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    [Fact]
    public void A_failing_rank_stops_the_others_and_its_exit_code_is_returned()
    {
        if (OperatingSystem.IsWindows()) return;
        var ranks = Launcher.Plan(2, "/bin/sh", ["-c", "if [ \"$RANK\" = 1 ]; then exit 3; fi; sleep 60"], "/tmp", "r");
        var log = new StringWriter();
        var clock = Stopwatch.StartNew();
        Assert.Equal(3, Launcher.Run(ranks, log));
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(30), $"took {clock.Elapsed}");   // rank 0 was stopped, not waited for
        Assert.Equal("launcher: rank 1 exited with code 3; stopping rank(s) 0", log.ToString().Trim());
    }
}
