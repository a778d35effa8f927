// The trainer tests seed torch's process-wide generator; one test at a time (as Bmojo.Cli.Tests).
[assembly: CollectionBehavior(DisableTestParallelization = true)]
