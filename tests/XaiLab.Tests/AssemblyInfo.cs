// Tests run one at a time: libtorch's global random generator (module initialisation, torch.manual_seed) and the
// process-global .NET Interactive formatters are shared state, and the "same seed → same result" tests must not have
// another test draw random numbers between their seeding and their use. The whole suite still takes about a minute.
[assembly: CollectionBehavior(DisableTestParallelization = true)]
