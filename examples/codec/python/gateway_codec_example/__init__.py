"""The example workers' AES-GCM payload codec, in Python: load it with
``gateway_codec_example.aes:make_codec``."""
