"""Where a model looks: attribution = (operator, target, aggregation), kept separate.

- :mod:`gazelm.attention.operators`: the operator registry (``get_operator("rollout")``);
- :mod:`gazelm.attention.target`: what is explained (reading / coding stage, a given sequence);
- :mod:`gazelm.attention.pooling`: subword → word / code token / line / span pooling, normalisation;
- :mod:`gazelm.attention.patch_slots`: a VLM's visual tokens → image patches → interface slots;
- :mod:`gazelm.attention.visual`: operators on vision-language backbones (images, soft prompts);
- :mod:`gazelm.attention.probe`: operators over prompt texts with character offsets;
- :mod:`gazelm.attention.study`: the alignment study behind ``gazelm align`` (operators × models → Table 3);
- :mod:`gazelm.attention.heatmap`: human vs model heatmaps (HTML, PNG).
"""
