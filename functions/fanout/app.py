"""placeholder until the handler lands"""
