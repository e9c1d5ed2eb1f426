"""The texts of Help > "What am I looking at?": one page per plot, in one place so that they
stay consistent with the definitions in docs/diagnostics.md (and desktop_nn/nn/diagnostics.py).

Pages that quote a diagnostic's definition say so in ``depends_on_diagnostics``; when a
definition changes, these are the texts to read again. The numbers they quote are the
constants below, which tests/gui/test_gui_help.py checks against nn.diagnostics.
Plain HTML (Qt's rich-text subset); no Qt here.
"""

from __future__ import annotations

from dataclasses import dataclass

from desktop_nn.inspect.plane import BOUNDARY_RESOLUTION, MARGIN, UNIT_RESOLUTION

# The definitions' constants (nn.diagnostics.SATURATION_THRESHOLD, WINDOW_EXAMPLES): a test
# checks that they agree once those exist.
SATURATION_THRESHOLD = 0.04  # mean g'(Z) / max g' below this over the window: saturated
WINDOW_EXAMPLES = 1000  # a window of the unit measures holds at least this many examples


@dataclass(frozen=True)
class HelpPage:
    """A page: its title (the list's entry), its HTML text, the object names of the plots it
    explains (their "?" button opens it), and whether it quotes docs/diagnostics.md."""

    key: str
    title: str
    html: str
    plots: tuple[str, ...] = ()
    depends_on_diagnostics: bool = False


COST = HelpPage("cost", "Cost", """
<h3>Cost</h3>
<p>The cost <i>J</i> measures how far the network's outputs <i>A</i> are from the targets
<i>Y</i>: quadratic <i>J = (1/2m) Σ ||a − y||²</i> or cross-entropy, averaged over the
<i>m</i> examples, plus the L2 term <i>λ/(2n) Σ<sub>l</sub> ||W[l]||²</i> when L2 is on
(<i>n</i> = training examples). Lower is better.</p>
<ul>
<li><b>batch (train)</b>, thin grey line, one point per reported step: the cost of the
mini-batch just used, measured before its step. It is noisy because every batch differs.</li>
<li><b>train</b>, blue, one point per epoch: the cost on the whole training set at the end
of the epoch.</li>
<li><b>validation</b>, red: the same on the validation set, which the network never trains
on. When it rises while the train cost keeps falling, the network is overfitting.</li>
</ul>
<p>The x axis counts steps (one step = one mini-batch). A cost that jumps to huge values or
to NaN means the run diverged: lower the learning rate.</p>
""", ("costPlot",))

ACCURACY = HelpPage("accuracy", "Accuracy", """
<h3>Accuracy</h3>
<p>The share of examples whose predicted class is the true class: the output unit with the
largest value (with a single output unit: output above 0.5 means class 1). Measured at the end
of every epoch on the training set (blue) and on the validation set (red).</p>
<p>With 10 classes, 0.1 is chance level: a network stuck there has not learnt anything yet
(for example while its gradients vanish). A gap between train and validation accuracy that
grows is overfitting. The x axis counts epochs.</p>
""", ("accuracyPlot",))

GRADIENTS = HelpPage("gradients", "Gradients and update ratio", """
<h3>Gradient magnitude per layer</h3>
<p>One line per weight layer <i>l</i> (layer 1 is the first hidden layer), on a log axis,
measured on the batch of each reported step. The menu above the plot chooses what is shown:</p>
<ul>
<li><b>||dW||</b>: <i>||dW[l]||<sub>F</sub></i>, the size of the cost's gradient with
respect to layer <i>l</i>'s weights (with the L2 term).</li>
<li><b>||db||</b>: <i>||db[l]||</i>, Nielsen's "speed of learning" of layer <i>l</i>.
<i>db[l]</i> is the batch mean of the error <i>δ[l] = dZ[l]</i>, so a layer whose line sits
100 times lower learns about 100 times more slowly.</li>
<li><b>update ratio</b>: <i>||W[l] after the step − W[l] before||<sub>F</sub> /
||W[l] before||<sub>F</sub></i>, how far the optimiser really moved the weights at that
step relative to their size, for every optimiser (SGD, momentum, Adam; with L2 the weight
decay is part of the step). Around 10<sup>−3</sup> is the usual rule of thumb; much smaller:
the layer hardly moves; much larger: the steps may be too big.</li>
</ul>
<p><b>Vanishing gradients</b>: backpropagation computes <i>δ[l−1] = W[l]ᵀ δ[l] ⊙
g'(Z[l−1])</i>; with sigmoid units <i>g' ≤ 1/4</i>, so every layer the error passes shrinks
it, and the first layers' lines sit far below the last ones, even when no unit is
saturated. The plot does not say whether a step lowered the cost: read the cost plot for
that.</p>
""", ("gradientPlot",), depends_on_diagnostics=True)

UNITS = HelpPage("units", "Saturated and dead units", f"""
<h3>Saturated / dead units per layer</h3>
<p>For each layer, the share of its units (not of unit × example entries) that have stopped
passing gradient back, measured over a <b>window</b>: the examples of the reported batches
until the window holds at least {WINDOW_EXAMPLES} examples. Each point is the last finished
window, so the first points appear only after {WINDOW_EXAMPLES} examples.</p>
<ul>
<li><b>Saturated</b> (sigmoid, tanh units): units whose mean of <i>g'(Z) / max g'</i> over
the window is below {SATURATION_THRESHOLD:g} (for sigmoid: mean <i>A(1 − A)</i> below
{SATURATION_THRESHOLD * 0.25:g}). Gradients through such a unit are
{1 / SATURATION_THRESHOLD:g} times weaker or more than through a unit at its steepest.</li>
<li><b>Dead</b> (ReLU units): units whose output was 0 for every example of the window;
no gradient flows through them, so they no longer learn.</li>
<li><b>n/a</b>: linear and leaky ReLU units never saturate nor die; softmax couples its
units (there is no per-unit <i>g'</i>); and an output layer under the cross-entropy cost does
not slow learning, because there <i>dZ = A − Y</i>: the cost cancels <i>g'</i>. Such layers
are shown as n/a with the reason, never as 0.</li>
</ul>
<p>In <b>heat map</b> mode each row is a layer and each column a point in time; the colour bar
gives the share. Low saturation does not rule out vanishing gradients: the factors
<i>g' ≤ 1/4</i> shrink the error even when no unit is saturated.</p>
""", ("saturationPlot",), depends_on_diagnostics=True)

ACTIVATIONS = HelpPage("activations", "Activation distributions", f"""
<h3>Activations over time</h3>
<p>For one layer, the distribution (histogram) of its activations over recent examples,
drawn as a heat map against time: each column is one histogram, brighter where more values
fall. It shows saturation as it happens: sigmoid activations piling up at 0 and 1 (where
<i>σ'</i> is nearly 0), tanh ones at −1 and 1, and ReLU outputs piling up at exactly 0.
The saturation plot sums this up per unit over a window of at least {WINDOW_EXAMPLES}
examples.</p>
""", ("activationPlot",), depends_on_diagnostics=True)

WEIGHTS = HelpPage("weights", "Weights", """
<h3>Weights</h3>
<p><b>Tiles</b>: each tile is one unit of the first hidden layer, its row of <i>W[1]</i>
drawn as an image of the input's shape: the pattern of pixels that excites the unit (red:
positive weights, blue: negative, white: 0 in the diverging colour map). Freshly drawn
weights look like noise; trained ones often show strokes and blobs. "shared" scales all
tiles alike, "per tile" each one to its own range.</p>
<p><b>Histogram</b>: the distribution of the chosen layer's weights <i>W[l]</i> and biases
<i>b[l]</i>. Watch it widen as the layer learns, or stay narrow in a layer that hardly
moves.</p>
""", ("weightTilesView", "weightHistogramPlot"))

EVALUATION = HelpPage("evaluation", "Confusion matrix and metrics", """
<h3>Confusion matrix</h3>
<p>Rows are the true classes, columns the predicted ones: the cell (i, j) counts the
examples of class i the network called j, on the chosen set (validation, test or training).
The diagonal holds the correct answers; a bright cell off the diagonal is a confusion the
network makes often (4 taken for 9, say). "row-normalised" divides each row by its number
of examples. Click a cell to see those mistakes.</p>
<p>Per class, <b>precision</b> is the share of the examples predicted as that class that
really are; <b>recall</b> the share of the examples of that class that were found.</p>
""", ("confusionMatrix", "classMetricsTable", "mistakesGallery"))

RUNS = HelpPage("runs", "Runs compared", """
<h3>Runs compared</h3>
<p>Every training run of the project, one line each; the checked runs are drawn together,
for the chosen quantity, against epochs (so runs with different batch sizes line up). A run
is one network trained from its initial weights; continuing it adds to the same run. Compare,
for example, quadratic against cross-entropy cost, or sigmoid against ReLU units. The
per-layer quantities mean what they mean in the Training tab.</p>
""", ("runsPlot",))

PREDICT = HelpPage("predict", "Predict", """
<h3>Predict</h3>
<p>Images you drop here are read exactly as the training images were (same size, colour,
scaling) and classified by the current model: the bars are the network's outputs for each
class, the red bar its answer. When the model changes (training on, a new run, an import, a
reset) the predictions are computed again, or cleared with a note when there is no model.</p>
""", ("predictList",))

SLOWDOWN = HelpPage("slowdown", "Learning slowdown", """
<h3>Learning slowdown</h3>
<p>One sigmoid neuron (input 1, target 0), started saturated at <i>w = b = 2</i>, trained
with each cost at the same learning rate. With the quadratic cost the error at the output is
<i>δ = (a − y) σ'(z)</i>, tiny while the neuron is saturated: its cost (red) stays flat
before it falls. With cross-entropy <i>δ = a − y</i>: it learns at once (blue).</p>
""", ("slowdownCostPlot", "slowdownOutputPlot"))

BOUNDARY = HelpPage("boundary", "Decision boundary", f"""
<h3>Decision boundary (networks with 2 inputs)</h3>
<p>The plane is the network's input space: each point <i>(x₁, x₂)</i> is an input, the two
rows of <i>X</i> as the network receives them (after any scaling of the data). The grid spans
the training and validation points plus {MARGIN:.0%} of their span on each side; at each of
its {BOUNDARY_RESOLUTION} × {BOUNDARY_RESOLUTION} points the network's forward pass is
computed, in the network's own precision.</p>
<ul>
<li><b>Two classes</b> (one output unit): the colour is the output <i>A[L]</i>, for a
sigmoid output the probability of the second class, from the first class's colour (0)
through white (0.5) to the second's (1). The white band is the <b>decision boundary</b>:
where the predicted class changes.</li>
<li><b>Three or more classes</b>: each point takes the colour of the class the network
predicts there (the largest output), deeper where that class's probability is higher; white
where all classes are equally likely.</li>
</ul>
<p>Circles are training points, triangles validation points, each in the colour of its
<b>true</b> class: a point on a background of another colour is misclassified.</p>
<p><b>Hidden units</b> (the pictures beside the plot): for each hidden layer <i>l</i> and
unit <i>j</i>, its activation <i>A[l][j]</i> over the same square (x₁ across, x₂ up, on a
coarser {UNIT_RESOLUTION} × {UNIT_RESOLUTION} grid), blue for low, white for the middle,
red for high. The scale is the activation's whole range for sigmoid (0 to 1) and tanh
(−1 to 1); for ReLU, leaky ReLU and linear units it runs from −r to r, r the largest |A|
in the layer, so 0 is white. Under each picture, the lowest and highest value the unit
takes on the plane. The first layer's units each cut the plane along a line; later layers
combine those cuts into curved regions, which is how the network bends its boundary.
(docs/diagnostics.md, "Decision boundary".)</p>
""", ("boundaryPlot",))

PAGES: list[HelpPage] = [COST, ACCURACY, GRADIENTS, UNITS, ACTIVATIONS, BOUNDARY, WEIGHTS,
                         EVALUATION, RUNS, PREDICT, SLOWDOWN]
PAGE_BY_KEY = {p.key: p for p in PAGES}


def page_for_plot(object_name: str) -> HelpPage | None:
    """The page that explains the plot named ``object_name``, or None."""
    return next((p for p in PAGES if object_name in p.plots), None)


ABOUT_TEXT = """
<h2>desktop-nn {version}</h2>
<p>See how neural networks learn: fully-connected networks trained by hand-written,
vectorised backpropagation (NumPy on the CPU, CuPy on a GPU), with live plots of what happens
inside.</p>
<p>Licence: MIT.</p>
<p>Documentation: {docs}<br>
Background: Michael Nielsen, <a href="http://neuralnetworksanddeeplearning.com/">Neural
Networks and Deep Learning</a>.</p>
<table>
<tr><td>Python</td><td>{python}</td></tr>
<tr><td>Qt / PySide6</td><td>{qt} / {pyside}</td></tr>
<tr><td>pyqtgraph</td><td>{pyqtgraph}</td></tr>
<tr><td>NumPy</td><td>{numpy}</td></tr>
<tr><td>CuPy</td><td>{cupy}</td></tr>
<tr><td>Device</td><td>{device}</td></tr>
</table>
"""

__all__ = ["ABOUT_TEXT", "HelpPage", "PAGES", "PAGE_BY_KEY", "page_for_plot"]
