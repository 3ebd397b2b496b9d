module rotor.dev/rotor

go 1.26
