namespace Bmojo.Distributed.Tests;

public class RendezvousTests
{
    private static string NewFile() => Path.Combine(Launcher.NewRendezvousDirectory(), "nccl-id");

    [Fact]
    public void Rank_0_publishes_and_the_others_read_the_same_bytes_whoever_starts_first()
    {
        string file = NewFile();
        var rendezvous = new FileRendezvous(file, "run-a", TimeSpan.FromSeconds(30));
        byte[] id = Enumerable.Range(0, NcclUniqueId.Length).Select(i => (byte)(i * 7)).ToArray();
        byte[]?[] seen = new byte[3][];
        var ranks = Enumerable.Range(0, 3).Select(r => new Thread(() =>
        {
            if (r == 0) Thread.Sleep(300);   // the readers wait for rank 0
            seen[r] = rendezvous.Exchange(r == 0 ? () => id : null, r);
        })).ToList();
        ranks.ForEach(t => t.Start());
        ranks.ForEach(t => t.Join());
        Assert.All(seen, s => Assert.Equal(id, s));
        Assert.Equal(id, NcclUniqueId.From(id).ToArray());
        Assert.Empty(Directory.GetFiles(Path.GetDirectoryName(file)!, "*.tmp"));   // written through a renamed temporary
    }

    [Fact]
    public void A_file_of_another_run_is_not_taken_and_the_timeout_says_so()
    {
        string file = NewFile();
        new FileRendezvous(file, "old-run", TimeSpan.FromSeconds(1)).Publish([1, 2, 3]);
        var error = Assert.Throws<DistributedError>(() => new FileRendezvous(file, "new-run", TimeSpan.FromMilliseconds(200)).Wait(1));
        Assert.Equal($"rank 1: no NCCL id from rank 0 in {file} after 0 s (the file there is of another run, old-run)", error.Message);
    }

    [Fact]
    public void No_rank_0_is_a_one_line_timeout()
    {
        string file = NewFile();
        var error = Assert.Throws<DistributedError>(() => new FileRendezvous(file, "r", TimeSpan.FromMilliseconds(100)).Wait(2));
        Assert.Equal($"rank 2: no NCCL id from rank 0 in {file} after 0 s (did rank 0 start, or fail before it published?)", error.Message);
    }

    [Fact]
    public void A_foreign_file_is_an_error()
    {
        string file = NewFile();
        File.WriteAllText(file, "hello\n");
        var error = Assert.Throws<DistributedError>(() => new FileRendezvous(file, "r", TimeSpan.FromSeconds(5)).Wait(1));
        Assert.Equal($"rank 1: {file} is not a bmojo rendezvous file", error.Message);
    }

    [Fact]
    public void The_rank_environment_is_read_as_torchrun_sets_it()
    {
        var variables = new Dictionary<string, string>
        {
            ["RANK"] = "1", ["WORLD_SIZE"] = "2", ["LOCAL_RANK"] = "1", ["BMOJO_RENDEZVOUS_FILE"] = "/tmp/x", ["BMOJO_RUN_ID"] = "id",
            ["BMOJO_RENDEZVOUS_TIMEOUT"] = "7",
        };
        RankEnvironment rank = RankEnvironment.From(variables.GetValueOrDefault)!;
        Assert.Equal(new RankEnvironment(1, 2, 1, 2, "/tmp/x", "id"), rank);
        Assert.Equal(TimeSpan.FromSeconds(7), rank.Rendezvous(variables.GetValueOrDefault).Timeout);
        Assert.Null(RankEnvironment.From(new Dictionary<string, string> { ["RANK"] = "0" }.GetValueOrDefault));   // no launcher
        variables["RANK"] = "2";
        Assert.Equal("RANK 2 is not below WORLD_SIZE 2", Assert.Throws<DistributedError>(() => RankEnvironment.From(variables.GetValueOrDefault)).Message);
        variables["WORLD_SIZE"] = "two";
        Assert.Equal("BMOJO_RENDEZVOUS_FILE is set, so WORLD_SIZE must be an integer >= 1 (got 'two')",
                     Assert.Throws<DistributedError>(() => RankEnvironment.From(variables.GetValueOrDefault)).Message);
    }
}
