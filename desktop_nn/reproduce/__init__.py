"""``desktop-nn reproduce NAME``: published results measured again through the app's own path.

Every recipe loads its data with the image-folder loader (:func:`load_training_data`, as
``desktop-nn train`` and the app do), builds NetworkSpec -> Network -> TrainConfig -> Trainer
the same way, and prints each published figure beside the measured one with PASS or MISS.

    nielsen-ch1            [784,30,10] sigmoid, quadratic, N(0,1), eta 3.0, batch 10, 30 epochs:
                           peak test accuracy 95.42 %
    nielsen-ch1-100        the same with 100 hidden units: 96.59 %
    nielsen-ch3            [784,100,10] cross-entropy, N(0,1), eta 0.5, lambda 5.0: 97.92 % val.
    nielsen-ch5            [784,30..,10] x3, N(0,1)/sqrt(n_in), eta 0.1, lambda 5.0: validation
    nielsen-ch5-gradients  ||db[l]|| per hidden layer at initialisation, 1000 training images
    cat-2layer, cat-4layer the course's cat / non-cat networks, full batch, 2500 iterations

Data. MNIST comes as idx files (``DATA_DIR/mnist``); ``idx_to_folders.py`` (beside the data,
``DATA_DIR/../tools``) turns them into ``WORK/mnist/{train,test}/<digit>/<index>.png`` once, and
Nielsen's split is then built beside it with hard links (copies where links are impossible):
``WORK/mnist-nielsen-50000/train`` (training index < 50000), ``val`` (the last 10000 training
images) and ``test``, a layout the folder loader reads as train / validation / test.
The cat / non-cat images are image folders already (``DATA_DIR/catvnoncat/{train,test}``);
their classes sort as ["cat", "non-cat"], so the recipe puts the classes in the course's order
(non-cat = 0, cat = 1) after loading: y = 1 means cat, as in the course.

Judged over seeds (issue 23). ``--seeds N`` runs seeds S..S+N-1 (S = ``--seed``) and judges
each figure on the mean over them (PASS within 0.5 pts for the MNIST accuracies; default 5
seeds); ``nielsen-ch1-100`` also counts the stuck runs (peak test accuracy below 90 %);
``nielsen-ch5-gradients`` judges each ||db[l]|| and the first / last ratio within a factor 2
of the book's, on the medians over 20 initialisations and on the first seed alone. The cat
recipes are one run (the course's draw), in float64 as the course's NumPy code.

Every run is repeatable. The MNIST recipes draw their initial weights and shuffles from
``--seed`` (default 0). The cat recipes start from the course notebook's own initial weights
(``np.random.seed(1)``, its layer order, its pixel order): their published costs are those of
that one draw, and full-batch training without shuffling uses no other randomness;
``--weights seeded`` draws them with the app's initialiser from ``--seed`` instead. Results and
their commands are in docs/reproductions.md.

Modules, one job each:
    recipes  the recipe table and the published figures
    data     the recipes' data folders and loading them
    run      training or measuring each network and judging the figures
    seeds    a recipe over several seeds: each figure's mean / median, min, max, stuck share
    report   the command line: arguments, the printed report, the exit code
This package re-exports their public names.
"""

from desktop_nn.reproduce.data import (
    DATA_ENV,
    NIELSEN_TRAIN,
    RecipeData,
    course_initial_parameters,
    default_data_dir,
    default_work_dir,
    load_recipe_data,
    mnist_folders,
    nielsen_layout,
    planes_order,
    reorder_classes,
)
from desktop_nn.reproduce.recipes import (
    RECIPES,
    WEIGHTS,
    Recipe,
    ReproduceError,
    Target,
    Variant,
    describe,
)
from desktop_nn.reproduce.report import (
    SEEDS_RANGE,
    add_reproduce_arguments,
    format_report,
    format_seeds_report,
    run_reproduce,
)
from desktop_nn.reproduce.run import (
    GRADIENT_EXAMPLES,
    hidden_bias_gradient_norms,
    judge,
    machine,
    run_recipe,
)
from desktop_nn.reproduce.seeds import aggregate, run_seeds, stuck_share

__all__ = [
    "DATA_ENV",
    "GRADIENT_EXAMPLES",
    "NIELSEN_TRAIN",
    "RECIPES",
    "SEEDS_RANGE",
    "WEIGHTS",
    "Recipe",
    "RecipeData",
    "ReproduceError",
    "Target",
    "Variant",
    "add_reproduce_arguments",
    "aggregate",
    "course_initial_parameters",
    "default_data_dir",
    "default_work_dir",
    "describe",
    "format_report",
    "format_seeds_report",
    "hidden_bias_gradient_norms",
    "judge",
    "load_recipe_data",
    "machine",
    "mnist_folders",
    "nielsen_layout",
    "planes_order",
    "reorder_classes",
    "run_recipe",
    "run_reproduce",
    "run_seeds",
    "stuck_share",
]
