// Training is seeded through torch's process-wide default generator and thread count. Test classes running at
// the same time would draw from that one generator between another test's seeding and its model's initialisation,
// and bit-exact comparisons (resume == uninterrupted) would then fail by chance. One test at a time.
[assembly: CollectionBehavior(DisableTestParallelization = true)]
