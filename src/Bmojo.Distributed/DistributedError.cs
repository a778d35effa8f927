namespace Bmojo.Distributed;

/// <summary>A problem of the distributed setup (NCCL missing, a rendezvous that times out, a rank that fails), with a
/// one-line message that says where and what; the CLI prints it without a stack trace.</summary>
public sealed class DistributedError(string message) : Exception(message);
