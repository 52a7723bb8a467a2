"""English imperative verbs a CommitPackFT subject may start with (REFERENCE.md §2).

``COMMITPACKFT_VERBS`` is the original's list (``GOOD_STARTS_EN`` of commitpackft_filters1.py,
257 entries, multi-word ones included; ``data/commitpack_rules.json``), matched as the original
matches it: ``subject.lower().startswith(verb + " ")``. Its ``"plug "`` carries a trailing space
there, so it never matches; kept as is.

``CODECORPUS_VERBS`` is our own list of ~400 single verbs that open commit subjects, matched
against the subject's first word (letters only, so ``Fix:`` and ``Fix,`` count); offered as
``ft_subject.imperative: codecorpus``.
"""

from codecorpus.commits.filters import commitpack_rules

COMMITPACKFT_VERBS = tuple(commitpack_rules()["imperative_verbs_en"])

CODECORPUS_VERBS = frozenset(
    """
    abort accelerate accept access accommodate account activate adapt add address adjust
    align allow alter amend annotate append apply archive arrange assert assign attach
    augment authenticate authorize automate avoid backport bind block boost break bring
    build bump bundle cache calculate call cancel capitalize capture cast catch center
    change check clarify clean cleanup clear clone close collapse combine comment commit
    compare compile complete compress compute concatenate configure connect consolidate
    constrain construct consume contain convert copy correct count cover create crop
    customize cut deal debug declare decode decorate decouple decrease define delegate
    delete deprecate describe destroy detach detect determine disable disallow discard
    display divide document drop duplicate edit eliminate embed emit empty emulate enable
    encapsulate encode end enforce enhance ensure enter escape evaluate exclude execute
    exit expand expect expire explain export expose extend extract factor fetch fill filter
    finalize find finish fix flatten flip force format forward free freeze generalize
    generate get give group guard handle hardcode harden hide highlight hook ignore
    implement import improve include increase increment indent index inherit initialize
    inject inline insert install instantiate integrate introduce invalidate invert invoke
    isolate join keep kill launch lift limit link lint list load localize lock log lower
    maintain make manage map mark match merge migrate minimize mock modify modularize
    mount move name navigate normalize note notify obtain omit open optimize order
    organize output overhaul override overwrite package parallelize parameterize parse
    pass patch pause permit persist pin place polish populate port prefer prepare prepend
    preserve prevent print process produce prohibit propagate protect provide prune
    publish pull purge push put query queue quote raise randomize read rearrange rebuild
    receive recognize record recover redefine redesign redirect reduce refactor reference
    refine reformat refresh register reimplement reintroduce reject release reload remove
    rename reorder reorganize repair replace report represent request require rerun
    reset reshape resize resolve respect restore restrict restructure retain retrieve
    retry return reuse revamp reverse revert review revise rewrite rework roll round run
    sanitize save scale schedule scroll search secure select send separate serialize
    serve set setup share shorten show shrink shuffle simplify skip slice sort specify
    speed split squash stabilize stage standardize start stop store streamline strip
    structure stub style submit substitute subtract suggest support suppress swap switch
    sync synchronize tag take test throw tidy toggle track transform translate trim
    truncate try tune tweak unblock uncomment undo unify uninstall unlock unpin unset
    unwrap update upgrade upload use validate verify wait warn watch work wrap write
    """.split()
)
# The name other modules used before the original's list became the default.
IMPERATIVE_VERBS = CODECORPUS_VERBS
