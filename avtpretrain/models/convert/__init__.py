"""Starting the audio and video towers from published checkpoints in a local folder.

`folder` checks a hub-layout folder against the tower's config and reads it through transformers;
`image_to_audio` holds AST's conversion of an image ViT (patch kernel, position table);
`vit_mae` and `videomae` start one tower each and say what they did in a `TowerLoad`.
"""
