namespace Bmojo.Distributed.Tests;

public class NcclTests
{
    [Fact]
    public void A_missing_NCCL_is_one_line_that_says_what_was_tried_and_how_to_fix_it()
    {
        var error = Assert.Throws<DistributedError>(() => Nccl.Load(["/nonexistent/libnccl.so.2", "libnccl-not-here.so.9"]));
        Assert.DoesNotContain('\n', error.Message);
        Assert.StartsWith("NCCL is not available: could not load libnccl.so.2 (tried /nonexistent/libnccl.so.2, libnccl-not-here.so.9); ", error.Message);
        Assert.Contains("LD_LIBRARY_PATH", error.Message);
        Assert.Contains("import nvidia.nccl", error.Message);
        Assert.Contains("BMOJO_NCCL_LIBRARY", error.Message);
    }

    [Fact]
    public void A_library_that_is_not_NCCL_is_named()
    {
        if (!OperatingSystem.IsLinux()) return;
        var error = Assert.Throws<DistributedError>(() => Nccl.Load(["libc.so.6"]));
        Assert.Equal("NCCL: 'libc.so.6' loaded but has no ncclCommInitRank; is it NCCL?", error.Message);
    }

    [Fact]
    public void NCCL_is_looked_for_by_name_then_beside_PyTorchs_lib_folder()
    {
        Assert.Equal(["/x/libnccl.so.2"], Nccl.Candidates("/x/libnccl.so.2", "/a/torch/lib"));
        Assert.Equal(["libnccl.so.2", "/venv/site-packages/nvidia/nccl/lib/libnccl.so.2", "/venv/site-packages/nvidia/cu13/lib/libnccl.so.2"],
                     Nccl.Candidates(null, "/opt/other:/venv/site-packages/torch/lib/:/usr/lib"));
        Assert.Equal(["libnccl.so.2"], Nccl.Candidates("", null));
    }

    [Fact]
    public void The_unique_id_round_trips_its_128_bytes()
    {
        byte[] bytes = Enumerable.Range(0, 128).Select(i => (byte)(255 - i)).ToArray();
        Assert.Equal(bytes, NcclUniqueId.From(bytes).ToArray());
        Assert.Throws<ArgumentException>(() => NcclUniqueId.From(new byte[5]));
    }
}
