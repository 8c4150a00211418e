"""SP: spec intake and lint.

SP101-SP129: reading files and parsing the formats. SP130-SP149: BaizeAI Dataset manifests.
SP150-SP159: pixi manifests. SP200-SP239: lint checks on the environment the spec really builds.
"""

from __future__ import annotations

from envresolve.diagnostics.codeinfo import CodeInfo
from envresolve.diagnostics.model import Category, Severity

ERROR, WARNING, INFO = Severity.ERROR, Severity.WARNING, Severity.INFO
SPEC, SECURITY, DRIVER, PYTHON, CC = (
    Category.SPEC,
    Category.SECURITY,
    Category.DRIVER,
    Category.PYTHON,
    Category.COMPUTE_CAPABILITY,
)

CODES: tuple[CodeInfo, ...] = (
    # --- reading and parsing -------------------------------------------------------------------------------
    CodeInfo(
        code="SP101",
        name="spec-too-large",
        category=SPEC,
        severity=ERROR,
        summary="A spec file is larger than the size limit.",
        explanation=(
            "Spec files are small text files. envresolve refuses to read more than 4 MiB of one (set "
            "ENVRESOLVE_MAX_SPEC_BYTES to change it), so that a wrong path or a hostile file cannot exhaust memory."
        ),
        example="envresolve lint huge.yaml   # SP101 huge.yaml is larger than the 4194304 byte limit",
    ),
    CodeInfo(
        code="SP102",
        name="spec-not-text",
        category=SPEC,
        severity=ERROR,
        summary="A spec file is binary data, not text.",
        explanation=(
            "The file contains NUL bytes, bytes that are not UTF-8 and do not look like an 8-bit text encoding, "
            "or many control characters. It is probably not the file you meant (an archive, an image, a wheel)."
        ),
        example="envresolve lint model.safetensors",
    ),
    CodeInfo(
        code="SP103",
        name="spec-wrong-encoding",
        category=SPEC,
        severity=ERROR,
        summary="A spec file is text in an encoding other than UTF-8 (UTF-16, UTF-32, Latin-1).",
        explanation=(
            "conda, pip, pixi and Kubernetes all read these files as UTF-8. A file saved as UTF-16 (common on "
            "Windows) or Latin-1 is misread by them, so envresolve stops and names the encoding it found. "
            "Convert the file with `iconv`."
        ),
        example="iconv -f UTF-16 -t UTF-8 environment.yml > environment.utf8.yml",
    ),
    CodeInfo(
        code="SP104",
        name="yaml-syntax-error",
        category=SPEC,
        severity=ERROR,
        summary="A YAML file (or a YAML file embedded in a Dataset manifest) does not parse.",
        explanation=(
            "The location is the line and column where the parser gave up; for an `environment.yml` embedded "
            "in a Dataset's `condaEnvironmentYml` option it is the line inside the manifest."
        ),
        example="dependencies: [\n  - cuda        # a block item inside a flow sequence",
    ),
    CodeInfo(
        code="SP105",
        name="yaml-too-complex",
        category=SPEC,
        severity=ERROR,
        summary="A YAML document nests too deeply, refers to itself, or its aliases expand to too many nodes.",
        explanation=(
            "YAML anchors and aliases let a few lines stand for billions of nodes (the 'billion laughs' attack), "
            "and very deep nesting exhausts parsers. envresolve measures the expanded size without expanding it "
            "and refuses documents above one million nodes or 200 levels."
        ),
        example='a: &a ["lol", "lol"]\nb: &b [*a, *a]\nc: &c [*b, *b]   # ... and so on',
    ),
    CodeInfo(
        code="SP106",
        name="toml-syntax-error",
        category=SPEC,
        severity=ERROR,
        summary="A pixi manifest or pyproject.toml does not parse as TOML.",
        explanation=(
            "The message carries the parser's line and column. envresolve reads TOML 1.0 and also accepts the "
            "TOML 1.1 additions pixi uses (multi-line inline tables, trailing commas); anything else is reported here."
        ),
        example='[dependencies]\npython = ">=3.11',
    ),
    CodeInfo(
        code="SP107",
        name="unknown-spec-format",
        category=SPEC,
        severity=ERROR,
        summary="A file is not a format envresolve reads.",
        explanation=(
            "envresolve reads BaizeAI Dataset manifests, conda environment files, pip requirements files, pixi "
            "manifests (`pixi.toml`, `[tool.pixi]` in `pyproject.toml`) and conda-lock virtual-package files "
            "(the last only as node facts, with `--node`). The format is chosen from the file name and content. "
            "`lint` reports a YAML file that is no spec as a warning (so hooks over many YAML files pass) and "
            "lock files and virtual-package files as info; `load_spec` refuses them."
        ),
        example="envresolve lint README.md",
    ),
    CodeInfo(
        code="SP108",
        name="toml-1-1-syntax",
        category=SPEC,
        severity=INFO,
        summary="A TOML file uses TOML 1.1 syntax; envresolve read it, older TOML 1.0 tools will not.",
        explanation=(
            "Multi-line inline tables and trailing commas in inline tables are TOML 1.1. pixi accepts them; "
            "Python's `tomllib` and other TOML 1.0 parsers reject the file. envresolve normalises them and reads "
            "the file, and tells you so."
        ),
        example='torch = {\n  version = ">=2.5.1",\n  index = "https://example.invalid/whl/cu124",\n}',
    ),
    CodeInfo(
        code="SP109",
        name="duplicate-key",
        category=SPEC,
        severity=WARNING,
        summary="A YAML mapping has the same key twice; only the last value is used.",
        explanation=(
            "Most YAML loaders (and Kubernetes' own) silently keep the last value of a duplicated key, so the "
            "first one is dead text that reviewers still read."
        ),
        example="channels: [conda-forge]\nchannels: [defaults]",
    ),
    CodeInfo(
        code="SP110",
        name="spec-structure",
        category=SPEC,
        severity=ERROR,
        summary="A field has the wrong type or shape (a list where a mapping is needed, a number for a name).",
        explanation=(
            "The file parses, but a field the tools need has a shape they cannot use: `dependencies` that is not "
            "a list, a dependency that is neither a string nor a `pip:` mapping, a pixi table that is a string."
        ),
        example="dependencies: numpy",
    ),
    CodeInfo(
        code="SP111",
        name="unknown-key",
        category=SPEC,
        severity=WARNING,
        summary="A key that the format does not define; the tools ignore it.",
        explanation=(
            "Usually a typo (`dependecies`, `channel`). The tools ignore unknown keys, so the setting has no effect."
        ),
        example="channel:\n  - conda-forge",
    ),
    CodeInfo(
        code="SP112",
        name="empty-spec",
        category=SPEC,
        severity=WARNING,
        summary="A spec file (or embedded spec) declares no packages at all.",
        explanation="Nothing will be installed from it; usually a file that was truncated or not filled in.",
        example="name: myenv\n",
    ),
    # --- conda and pip items -------------------------------------------------------------------------------
    CodeInfo(
        code="SP120",
        name="invalid-conda-spec",
        category=SPEC,
        severity=ERROR,
        summary="A conda dependency is not a valid match spec.",
        explanation=(
            "envresolve parses conda dependencies with py-rattler's strict MatchSpec parser after translating "
            "conda's historic forms (`pkg 1.2.3` exact pins, `pkg=1.2.3=build`, `pkg=1.2.*`). A spec that is "
            "still invalid would make conda or mamba stop with a parse error."
        ),
        example="- python=          # an empty version",
    ),
    CodeInfo(
        code="SP121",
        name="invalid-pip-requirement",
        category=SPEC,
        severity=ERROR,
        summary="A pip requirement line does not parse (PEP 508, direct URL, VCS or editable).",
        explanation=(
            "pip would stop with 'Invalid requirement'. The message gives packaging's reason; the location is "
            "the line of the requirement (inside the manifest for an embedded requirements file)."
        ),
        example="torch=2.1.0        # pip needs ==",
    ),
    CodeInfo(
        code="SP122",
        name="unknown-pip-option",
        category=SPEC,
        severity=WARNING,
        summary="A requirements-file option that pip does not accept there.",
        explanation=(
            "pip accepts a fixed set of options in requirements files (`-r`, `-c`, `-e`, `-i`, `--extra-index-url`, "
            "`-f`, `--no-index`, `--pre`, `--prefer-binary`, `--only-binary`, `--no-binary`, `--trusted-host`, "
            "`--hash`, ...). Others make pip stop."
        ),
        example="--index https://example.invalid/simple",
    ),
    CodeInfo(
        code="SP123",
        name="undefined-env-var",
        category=SPEC,
        severity=WARNING,
        summary="A requirements file uses `${VAR}` and VAR is not set; pip would keep the text literally.",
        explanation=(
            "pip expands `${NAME}` (upper case, digits and `_`) from the environment in requirements files. "
            "When the variable is unset the literal text stays, which usually breaks the URL. Lint takes the "
            "environment mapping as an argument so CI can check with the variables it will really have."
        ),
        example="--extra-index-url https://${PIP_TOKEN}@pypi.example.invalid/simple",
    ),
    CodeInfo(
        code="SP124",
        name="include-not-found",
        category=SPEC,
        severity=ERROR,
        summary="A `-r` or `-c` include (or a local path requirement) names a file that does not exist.",
        explanation=(
            "pip resolves includes relative to the including file. A missing include makes `pip install -r` stop, "
            "and inside a Dataset manifest the file will never exist, because only the embedded text is mounted."
        ),
        example="-c constraints.txt",
    ),
    CodeInfo(
        code="SP125",
        name="include-cycle",
        category=SPEC,
        severity=ERROR,
        summary="Requirements files include each other in a cycle.",
        explanation=(
            "`a.txt` includes `b.txt` which includes `a.txt` again. envresolve stops following the cycle and "
            "reports it."
        ),
        example="# a.txt\n-r b.txt\n# b.txt\n-r a.txt",
    ),
    CodeInfo(
        code="SP126",
        name="duplicate-dependency",
        category=SPEC,
        severity=WARNING,
        summary="The same conda package is listed twice with different specs.",
        explanation=(
            "conda intersects both specs, so the result is the stricter one, or nothing at all when they "
            "contradict. Keep one line per package."
        ),
        example="- clang-tools=20.1.4\n- clang-tools==20.1.4",
    ),
    # --- BaizeAI Dataset manifests -------------------------------------------------------------------------
    CodeInfo(
        code="SP130",
        name="not-a-dataset",
        category=SPEC,
        severity=WARNING,
        summary="A document in a Dataset manifest file is not a `dataset.baizeai.io` Dataset; it is skipped.",
        explanation=(
            "Multi-document files and `List` objects may hold other kinds (ConfigMaps, Secrets). Only "
            "`dataset.baizeai.io/v1alpha1` Datasets are linted."
        ),
        example="apiVersion: v1\nkind: ConfigMap",
    ),
    CodeInfo(
        code="SP131",
        name="dataset-missing-field",
        category=SPEC,
        severity=ERROR,
        summary="A Dataset lacks a field the CRD requires (`spec`, `spec.source`, `source.type`, `source.uri`).",
        explanation="The API server rejects the object: the CRD's OpenAPI schema marks these fields as required.",
        example="spec:\n  source:\n    type: CONDA",
    ),
    CodeInfo(
        code="SP132",
        name="dataset-unknown-type",
        category=SPEC,
        severity=ERROR,
        summary="`spec.source.type` is not one of the CRD's enum values.",
        explanation=(
            "The CRD allows GIT, S3, HTTP, PVC, NFS, CONDA, REFERENCE, HUGGING_FACE, MODEL_SCOPE, DATABASE, "
            "HADOOP and MANUAL (upper case). The API server rejects anything else, including `PIXI`, whose "
            "loader exists in the controller source but not in the CRD."
        ),
        example="type: conda",
    ),
    CodeInfo(
        code="SP133",
        name="dataset-uri-scheme",
        category=SPEC,
        severity=ERROR,
        summary="`spec.source.uri` does not have the form the CRD documents for its type.",
        explanation=(
            "Each source type has its URI form: GIT http(s):// or git://, S3 s3://, HTTP http(s)://, PVC pvc://, "
            "NFS nfs://, CONDA conda://<name>?[python=<version>], REFERENCE dataset://<namespace>/<dataset>, "
            "HUGGING_FACE huggingface://, MODEL_SCOPE modelscope://<namespace>/<model>, DATABASE database://, "
            "HADOOP hdfs://. The loader parses the URI by these rules."
        ),
        example="type: S3\nuri: https://bucket.example.invalid/models",
    ),
    CodeInfo(
        code="SP134",
        name="dataset-manual-uri",
        category=SPEC,
        severity=ERROR,
        summary="A MANUAL Dataset's uri is not exactly `manual://`.",
        explanation="The CRD documents `MANUAL: manual://` with nothing after the scheme.",
        example="type: MANUAL\nuri: manual://my-data",
    ),
    CodeInfo(
        code="SP135",
        name="dataset-unknown-option",
        category=SPEC,
        severity=WARNING,
        summary="A `spec.source.options` key (or value) the CRD does not list for this source type.",
        explanation=(
            "The CRD description lists the supported option keys per type (GIT: branch, commit, depth, "
            "submodules; S3: region, endpoint, provider, syncMode; ...). HTTP passes every option as a header. "
            "Unknown keys are kept by the API server (preserve-unknown-fields) but the loader ignores them. "
            "Values the description constrains are checked too: S3 syncMode sync|copy, DATABASE type MySQL and "
            "exportFormat csv, numeric GIT depth and DATABASE port, HUGGING_FACE/MODEL_SCOPE repoType."
        ),
        example="type: GIT\noptions:\n  tag: v1.0",
    ),
    CodeInfo(
        code="SP136",
        name="dataset-option-not-string",
        category=SPEC,
        severity=ERROR,
        summary="A `spec.source.options` value is not a string.",
        explanation=(
            "The CRD types options as a map of strings. YAML reads `depth: 1` as an integer and "
            "`pythonVersion: 3.10` as the float 3.1, which the API server rejects; quote the value."
        ),
        example='pythonVersion: 3.10     # use "3.10"',
    ),
    CodeInfo(
        code="SP137",
        name="dataset-mount-mode",
        category=SPEC,
        severity=ERROR,
        summary="`spec.mountOptions` has a value the CRD rejects (mode pattern, uid/gid type).",
        explanation=(
            'The CRD requires `mode` to match `^[0-7]{3,4}$` (a quoted octal string such as "0774") and uid/gid '
            "to be integers."
        ),
        example="mountOptions:\n  mode: 0774     # YAML reads an unquoted 0774 as the integer 508",
    ),
    CodeInfo(
        code="SP138",
        name="dataset-volume-claim",
        category=SPEC,
        severity=ERROR,
        summary="`volumeClaimRef` and `volumeClaimTemplate` are both set, or the claim reference is malformed.",
        explanation=(
            "The controller refuses a Dataset with both fields ('volumeClaimRef and volumeClaimTemplate cannot "
            "be both set'); `volumeClaimRef.name` is required; `subPath` must not start with '/' or contain '..'."
        ),
        example="volumeClaimRef:\n  name: data\nvolumeClaimTemplate:\n  spec: {}",
    ),
    CodeInfo(
        code="SP139",
        name="dataset-sync-round",
        category=SPEC,
        severity=ERROR,
        summary="`spec.dataSyncRound` is not a positive integer.",
        explanation=(
            "The CRD's validation rule is `self > 0 && self - oldSelf <= 1`: a positive int32, raised by one at a time."
        ),
        example="dataSyncRound: 0",
    ),
    CodeInfo(
        code="SP140",
        name="conda-env-name-missing",
        category=SPEC,
        severity=ERROR,
        summary="A CONDA Dataset has no `options.name`; the conda loader refuses to start.",
        explanation=(
            "BaizeAI's conda loader requires the environment name ('missing required options --options "
            "name=<env-name>'); the Dataset job fails at once."
        ),
        example="type: CONDA\noptions:\n  pythonVersion: '3.11'",
    ),
    CodeInfo(
        code="SP141",
        name="conda-python-version",
        category=SPEC,
        severity=ERROR,
        summary="A CONDA Dataset's `pythonVersion` is missing or not a version.",
        explanation=(
            "The loader always adds `python=<pythonVersion>` to the environment. Without `pythonVersion` that is "
            "the spec `python=`, which conda cannot parse, so the job fails."
        ),
        example="options:\n  name: torch",
    ),
    CodeInfo(
        code="SP142",
        name="conda-gpu-type",
        category=SPEC,
        severity=ERROR,
        summary="`options.gpuType` is not one of nvidia-gpu, nvidia-vgpu, metax-gpu.",
        explanation=(
            "The controller maps these three values to the loader job's GPU resource request (nvidia.com/gpu, "
            "nvidia.com/vgpu, metax-tech.com/gpu). Any other value is silently ignored: the job gets no GPU."
        ),
        example="gpuType: nvidia",
    ),
    CodeInfo(
        code="SP143",
        name="conda-pin-replaced",
        category=SPEC,
        severity=WARNING,
        summary="The BaizeAI conda loader drops this pin and installs its own.",
        explanation=(
            "Before `conda env create`, the loader removes dependencies starting with `python=`, `pip=`, "
            "`ipykernel=` and `nb_conda_kernels=`, then appends `python=<pythonVersion>`, `pip`, `ipykernel`, "
            "`nb_conda_kernels` and `notebook`. Your pin does not take effect; lint reports on the environment that "
            "will really exist. Other spellings (`python>=3.8`) are kept and must agree with `pythonVersion`."
        ),
        example="pythonVersion: '3.11'\ncondaEnvironmentYml: |\n  dependencies:\n    - python=3.8",
    ),
    CodeInfo(
        code="SP144",
        name="conda-extra-index-url",
        category=SPEC,
        severity=ERROR,
        summary="`pipExtraIndexUrl` holds more than one URL or is not a URL.",
        explanation=(
            "The loader passes `pipExtraIndexUrl` to pip as exactly one `--extra-index-url` and derives one "
            "`--trusted-host` from it; several URLs separated by spaces or commas become one broken URL."
        ),
        example="pipExtraIndexUrl: https://a.example.invalid/simple https://b.example.invalid/simple",
    ),
    CodeInfo(
        code="SP145",
        name="conda-python-conflict",
        category=SPEC,
        severity=ERROR,
        summary="The Python version in the manifest disagrees with itself.",
        explanation=(
            "`pythonVersion` is what the loader installs. A `python` spec the loader keeps (such as `python>=3.12`) "
            "or a `?python=` in the uri that contradicts it makes the environment unsolvable or misleading."
        ),
        example="uri: conda://torch?python=3.10\noptions:\n  pythonVersion: '3.11'",
    ),
    # --- pixi ----------------------------------------------------------------------------------------------
    CodeInfo(
        code="SP150",
        name="pixi-unknown-feature",
        category=SPEC,
        severity=ERROR,
        summary="A pixi environment refers to a feature that is not defined.",
        explanation=(
            "pixi refuses the manifest: every name in an environment's `features` must have a `[feature.NAME]` table."
        ),
        example='[environments]\ncuda = ["cuda12"]   # no [feature.cuda12]',
    ),
    CodeInfo(
        code="SP151",
        name="pixi-unknown-platform",
        category=SPEC,
        severity=ERROR,
        summary="A pixi platform is not a conda subdir (or a named platform that is not defined).",
        explanation=(
            "Platforms are conda subdirs such as linux-64, linux-aarch64, osx-arm64, win-64, or names of "
            "platform entries declared as inline tables (`{ name = ..., platform = ..., cuda = ... }`)."
        ),
        example='platforms = ["linux-x86_64"]',
    ),
    # --- lint checks ---------------------------------------------------------------------------------------
    CodeInfo(
        code="SP201",
        name="cuda-variant-conflict",
        category=DRIVER,
        severity=ERROR,
        summary="conda and pip pin different CUDA versions (e.g. pytorch-cuda=11.8 and torch from a cu121 index).",
        explanation=(
            "pip installs after conda without a joint resolution, so both CUDA runtimes end up in one prefix and "
            "whichever loads first wins: torch from a cu121 index next to `pytorch-cuda=11.8` gives a torch "
            "built for CUDA 12.1 beside CUDA 11.8 libraries. Pin one CUDA version everywhere."
        ),
        example=(
            "- pytorch-cuda=11.8\n- pip:\n  - --extra-index-url https://torch-index.example.invalid/whl/cu121\n"
            "  - torch==2.3.1"
        ),
    ),
    CodeInfo(
        code="SP202",
        name="cuda-too-new-for-driver",
        category=DRIVER,
        severity=ERROR,
        summary="The spec declares a CUDA system requirement (pixi `cuda`) the target node's driver does not meet.",
        explanation=(
            'A pixi workspace (or platform variant) that declares `cuda = "12.4"` is only installable where the '
            "driver reports at least that CUDA level: pixi refuses it elsewhere. The CUDA runtime a spec pins "
            "(cudatoolkit, cuda-version, a torch `+cuXYZ` pin, ...) against the driver is a compatibility finding "
            "and has the judge's code wherever it is found: CP101/CP102/CP103."
        ),
        example='[system-requirements]\ncuda = "12.4"   # on a node whose driver reports CUDA 12.2',
    ),
    CodeInfo(
        code="SP203",
        name="python-unsupported",
        category=PYTHON,
        severity=ERROR,
        summary="Retired: a pinned release that does not support the spec's Python is CP180, as in lock and check.",
        explanation=(
            "lint asked its own copy of the Python rule under this code; the judge (`envresolve.compat`) now "
            "answers for lint, lock and check alike, with CP180. The code stays reserved so old reports still "
            "explain."
        ),
        example="pythonVersion: '3.12'\npipRequirementsTxt: |\n  torch==2.0.1",
    ),
    CodeInfo(
        code="SP204",
        name="torch-cuda-variant-node",
        category=CC,
        severity=WARNING,
        summary="A pinned torch release asks for a CUDA variant (`+cuXYZ`, a `cuXYZ` index) the matrix does not list.",
        explanation=(
            "Each torch release is published for a few CUDA variants (the PyTorch matrix); `torch==2.3.1+cu128` "
            "names a wheel that likely does not exist, and pip then fails to find it. A warning: the matrix lists "
            "every variant of the 2.x releases but only the PyPI default of 1.x ones, so a variant it lacks is not "
            "proof. Whether an existing variant runs on a node's GPUs and driver is the judge's CP110/CP111 and "
            "CP101/CP102, as in lock and check."
        ),
        example="torch==2.3.1+cu128   # 2.3 was built for CUDA 11.8 and 12.1 only",
    ),
    CodeInfo(
        code="SP205",
        name="declared-cuda-too-low",
        category=DRIVER,
        severity=WARNING,
        summary="The spec declares a CUDA system requirement lower than the CUDA runtime it asks for.",
        explanation=(
            "pixi's `[system-requirements] cuda` (or a platform's `cuda = ...`) states the lowest driver CUDA "
            "level the environment targets. Requesting `cuda-version = 12.6` while declaring `cuda = 12.0` relies "
            "on minor-version compatibility on the oldest nodes, with its limits (no PTX JIT of newer code)."
        ),
        example='[system-requirements]\ncuda = "12.0"\n[dependencies]\ncuda-version = "12.6.*"',
    ),
    CodeInfo(
        code="SP210",
        name="pip-shadows-conda",
        category=SPEC,
        severity=WARNING,
        summary="pip installs a package that conda already installs (found through the conda → PyPI name map).",
        explanation=(
            "pip runs after conda with no joint resolution and overwrites the conda package's files; conda's "
            "metadata still lists the old one, so later conda operations and binary compatibility (C++ ABI, "
            "CUDA libraries) break in ways that are hard to see. Install each package from one side."
        ),
        example="- pytorch=2.1\n- pip:\n  - torch==2.1.2",
    ),
    CodeInfo(
        code="SP211",
        name="two-cuda-runtimes",
        category=DRIVER,
        severity=WARNING,
        summary="The environment asks for two packagings of the same CUDA major's runtime.",
        explanation=(
            "Two packagings of the CUDA runtime of one major (for instance `cudatoolkit=11.7` and "
            "`pytorch-cuda=11.7`, or conda CUDA 12 next to pip `nvidia-*-cu12` wheels) put two libcudart copies "
            "in one environment, and the loader order decides which one runs. Different majors are the judge's "
            "CP160 error, as in lock and check."
        ),
        example="- cudatoolkit=11.7\n- pytorch-cuda=11.7",
    ),
    CodeInfo(
        code="SP212",
        name="gpu-package-may-be-cpu",
        category=Category.COMPANION,
        severity=WARNING,
        summary="A GPU framework is left loose enough that the solver may pick a CPU-only build.",
        explanation=(
            "conda `pytorch` without `pytorch-cuda`, `cuda-version`, `pytorch-gpu` or a `*cuda*` build string can "
            "resolve to a CPU build (and will, on a machine without `__cuda`); pip `jax` without a `cuda` extra is "
            "CPU-only; torch from a `/cpu` index is CPU-only. Pin the GPU variant explicitly."
        ),
        example="- pytorch::pytorch=1.12.*      # CPU or CUDA: the solver decides",
    ),
    CodeInfo(
        code="SP220",
        name="credentials-in-url",
        category=SECURITY,
        severity=ERROR,
        summary="A URL in the spec carries credentials (user:password@, a token query parameter).",
        explanation=(
            "Spec files are committed and Dataset manifests are readable by everyone who can read the namespace. "
            "The value is masked in every report. Use `${VAR}` in requirements files, a netrc or keyring, or the "
            "Dataset's `secretRef`."
        ),
        example="--extra-index-url https://alice:s3cret@pypi.example.invalid/simple",
    ),
    CodeInfo(
        code="SP221",
        name="insecure-index",
        category=SECURITY,
        severity=WARNING,
        summary="A package index or channel is reached over plain http.",
        explanation=(
            "Packages fetched over http can be replaced in transit. BaizeAI's conda loader also adds every index "
            "host as `--trusted-host`, which disables certificate checks for it."
        ),
        example="pipIndexUrl: http://mirror.example.invalid/simple",
    ),
    CodeInfo(
        code="SP300",
        name="container-step-not-static",
        category=SPEC,
        severity=INFO,
        summary="A Dockerfile/Containerfile step or an ImageSpec value cannot be understood without running it.",
        explanation=(
            "Dockerfiles and Flyte ImageSpecs are read statically: the Dockerfile's instructions are parsed, "
            "and the ImageSpec Python file is read with `ast`, never executed. A `RUN` that installs through a "
            "script, a shell conditional or an unknown tool, an `${VAR}` with no `ARG`/`ENV` default, a "
            "`FROM` stage built from a variable, or an ImageSpec argument that is not a literal is reported "
            "here and left out of the spec; nothing is guessed."
        ),
        example='RUN if [ "$CUDA" = 1 ]; then pip install torch; fi',
    ),
    CodeInfo(
        code="SP301",
        name="containerfile-invalid",
        category=SPEC,
        severity=ERROR,
        summary="A Dockerfile/Containerfile has no usable FROM, or an instruction is malformed.",
        explanation=(
            "Every build stage starts with `FROM image[:tag] [AS name]`; a Dockerfile without one does not build. "
            "The final stage is the image that runs; earlier stages only feed `COPY --from`."
        ),
        example="RUN pip install torch   # no FROM before it",
    ),
    CodeInfo(
        code="SP302",
        name="container-file-not-in-context",
        category=SPEC,
        severity=INFO,
        summary="A requirements file that a container build installs is not in the build context next to the spec.",
        explanation=(
            "`pip install -r FILE` in a `RUN` line (or an ImageSpec's `requirements=`) reads a file that the "
            "build copies in. It is looked up relative to the Dockerfile's directory (the usual build context) "
            "or the ImageSpec file's directory; when it is not there its packages are unknown to lint."
        ),
    ),
    CodeInfo(
        code="SP310",
        name="imagespec-builder-refuses",
        category=SPEC,
        severity=ERROR,
        summary="flytekit's image builder refuses this ImageSpec, so the image is never built.",
        explanation=(
            "flytekit's default builder raises for `cuda` or `cudnn` (it expects CUDA from PyPI wheels, conda "
            "packages or a CUDA base image) and for `conda_packages`/`conda_channels` with `python_exec`; the "
            "envd builder raises for `cuda` without `python_version` and for `python_exec`. With `builder` "
            "unset flytekit picks the registered builder with the highest priority (envd when its plugin is "
            "installed, else the default), so the finding is a warning there."
        ),
        example='ImageSpec(builder="default", packages=["torch"], cuda="12.1")',
    ),
    CodeInfo(
        code="SP311",
        name="imagespec-field-meaning",
        category=SPEC,
        severity=INFO,
        summary="What flytekit will really do with an ImageSpec field (base image replaced, Python unknown, ...).",
        explanation=(
            "Field meanings as flytekit's builders implement them: the envd builder replaces `base_image` with "
            "ubuntu20.04 and installs the CUDA toolkit when `cuda` is set; the default builder installs Python "
            "`python_version` (else the Python of the machine running flytekit) with micromamba from conda-forge "
            "plus `conda_channels`, then `requirements` and `packages` with uv into that environment, using "
            "`pip_index`/`pip_extra_index_url`; `base_image` defaults to debian:bookworm-slim."
        ),
    ),
    CodeInfo(
        code="SP160",
        name="include-outside-tree",
        category=SECURITY,
        severity=ERROR,
        summary="A `-r`/`-c` include points outside the spec's directory tree; it was not read.",
        explanation=(
            "A requirements file (or an environment.yml / pixi manifest that includes one) may name any path, "
            "such as `-r /home/ci/.netrc` or `-r ../../../../etc/passwd`, and a linter that read it would print "
            "its lines as invalid requirements into CI logs. By default envresolve reads includes only inside "
            "the directory of the spec it was given (symlinks resolved). Pass "
            "`--allow-outside-includes` (lint, lock, check) or `allow_outside_includes=True` (API: "
            "`load_spec`, `load_file`, `lint`) to read them anyway."
        ),
        example="-r ../../../../etc/passwd",
    ),
    CodeInfo(
        code="SP161",
        name="include-budget-exceeded",
        category=SECURITY,
        severity=ERROR,
        summary="Requirements includes exceed the budget (256 files or 32 MiB in all); the rest was not read.",
        explanation=(
            "Each included file is read once per top-level spec (a second `-r` of the same file is skipped), "
            "and all includes together may not exceed `envresolve.limits.MAX_INCLUDE_FILES` files or "
            "`MAX_INCLUDE_BYTES` bytes. This bounds the work a diamond of includes can cause: 30 levels of two "
            "files each including both files of the next level would otherwise be read 2^30 times."
        ),
        example="# a.txt\n-r b1.txt\n-r b2.txt\n# b1.txt, b2.txt\n-r c1.txt\n-r c2.txt\n...",
    ),
)
