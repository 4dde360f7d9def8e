"""course_utils: every implementation behind the notebooks, once, tested.

Modules follow the course order; a notebook imports what it teaches from here, and nothing imports
"forward" (attention never imports BERT, say):

============================ ========================================================================
``data``                     corpora and evaluation sets that ship inside gensim (cached)
``install``                  WordNet for nltk and the corpus cache: ``python -m course_utils.install``
``tokenization``             words, ``Vocabulary``, minibatches; WordPiece (BERT); byte-level BPE (GPT)
``training``                 seeding, device choice, ``fit``, ``evaluating``/``single_thread``, checkpoints
``distributed``              data-parallel training under torchrun (DDP, batch sharding)
``plotting``                 loss curves, labelled heatmaps, 2-D projections
``widgets``                  thin ipywidgets wrappers that also render headless
``exercises``                checkers used by the exercise cells (one sub-module per concept)
``wordnet``                  WordNet lookups, hypernyms, similarity measures, sense examples (01)
``wordnet_coverage``         WordNet's limits measured on a corpus (01)
``vectors``                  one-hot, co-occurrence, PPMI, SVD, similarity, evaluation (02)
``word2vec_data``            (centre, context) pairs, subsampling, the noise distribution (03)
``word2vec``                 skip-gram, CBOW, negative sampling, the fast trainer (03)
``word2vec_evaluation``      analogies by category, step costs, the notebook's widgets (03)
``deepwalk``                 xxx2vec on graphs: random walks over WordNet as sentences (03)
``elmo``                     character encoder, biLM, scalar mix, corpus windows, save/load (04)
``elmo_training``            biLM pre-training, perplexity, n-gram baselines on the same windows (04)
``elmo_features``            ELMo layers as features: contextuality, senses, part of speech (04)
``rnn_attention``            Bahdanau's additive attention in a small RNN encoder-decoder (05)
``attention``                scaled dot-product, masks, multi-head, positions (05)
``attention_tasks``          small tasks that show attention at work (05)
``transformer``              blocks, encoder, decoder, encoder-decoder, decoding (06)
``translation_task``         the code-generated digits → English words task and its training (06)
``translation_inspection``   attention maps, alignment, greedy vs beam for the translator (06)
``bert``                     BERT embeddings, encoder, MLM and NSP heads, masking (07)
``bert_tasks``               pre-training data (packing, NSP pairs, masked batches) and loop (07)
``bert_finetune``            the fine-tuning recipes' heads and tasks made from text (07)
``bert_experiments``         pre-trained vs scratch learning curves and other measurements (07)
``ngram``                    the language-model ladder below GPT: n-grams, fixed window, LSTM (08)
``gpt``                      decoder-only Transformer, key/value cache, GPT-1 head (08)
``generation``               greedy, temperature, top-k, top-p sampling with a cache (08)
``ladder``                   the ladder's rows and the weight-tying pair from checkpoint metadata (08)
``icl_tasks``                in-context task family, k-shot prompts, induction heads (08)
``rlhf_tasks``               instruction prompts, demonstrations and the rule-based labeler (09)
``rlhf``                     rankings → pairs, pairwise loss, KL reward, GAE, PPO and DPO losses (09)
``rlhf_models``              SFT loss, reward model, policy with value head, best-of-n (09)
``rlhf_training``            reward-model training, PPO and DPO loops (09)
``rlhf_pipeline``            the SFT and reward-model stages, prompt split, centred reward (09)
``rlhf_evaluation``          sampled statistics, best-of-n, the closed-form KL optimum (09)
============================ ========================================================================

Glossary of tensor names used in shape comments::

    B  batch size            T  time (sequence length)     S  source length
    C  channels (d_model)    V  vocabulary size            H  number of heads
    D  head size (C // H)    L  number of layers           K  negatives / classes
"""

__version__ = "0.1.0"
