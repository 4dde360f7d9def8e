"""course_utils: every implementation behind the notebooks, once, tested.

Modules follow the course order; a notebook imports what it teaches from here, and nothing imports
"forward" (attention never imports BERT, say):

=================  ==========================================================
``data``           corpora, evaluation sets, vocabularies, WordNet installation
``training``       seeding, device choice, the generic fit loop, checkpoints
``plotting``       loss curves, labelled heatmaps, 2-D projections
``widgets``        thin ipywidgets wrappers that also render headless
``exercises``      checkers used by the exercise cells (one sub-module per concept)
``wordnet``        WordNet lookups, hypernyms, similarity measures, sense examples (notebook 01)
``wordnet_coverage`` WordNet's limits measured on a corpus: coverage, kinds of missing words (01)
``vectors``        one-hot, co-occurrence, PPMI, SVD, similarity, evaluation (02)
``word2vec``       skip-gram, CBOW, negative sampling, the fast trainer (03)
``word2vec_data``  training pairs, CBOW examples, subsampling, the noise distribution (03)
``word2vec_evaluation`` analogies per question and section, step-cost timing, 03's widgets
``deepwalk``       xxx2vec on graphs: random walks over WordNet as sentences (03)
``elmo``           character encoder, biLM, scalar mix, pre-training, perplexity (04)
``elmo_features``  ELMo layers as features: contextuality, sense and part-of-speech probes, mixes (04)
``attention``      scaled dot-product, masks, multi-head, positions (05)
``rnn_attention``  Bahdanau's additive attention in a small GRU encoder-decoder (05)
``attention_tasks`` 05's demo tasks (reversal, previous word), timing and memory measurement
``transformer``    blocks, encoder, decoder, encoder-decoder, decoding (06)
``translation_task`` the code-generated digits → English words task (06)
``translation_inspection`` attention maps, measured alignment, greedy vs beam search (06)
=================  ==========================================================

Glossary of tensor names used in shape comments::

    B  batch size            T  time (sequence length)     S  source length
    C  channels (d_model)    V  vocabulary size            H  number of heads
    D  head size (C // H)    L  number of layers           K  negatives / classes
"""

__version__ = "0.1.0"
